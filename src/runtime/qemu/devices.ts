import type { VmFiles } from './files.js';

/**
 * QEMU device arguments, one helper per device. Values in QEMU's key=value
 * option syntax have their commas doubled; -blockdev takes JSON, which needs
 * no escaping at all.
 */
export const optValue = (v: string): string => v.replace(/,/g, ',,');

/** The VM's disk: a qcow2 (its backing chain opens by itself) on virtio-blk as /dev/vda. */
export function disk(path: string, opts: { nodeName?: string; bootIndex?: number; format?: 'qcow2' | 'raw'; cacheUnsafe?: boolean } = {}): string[] {
  const node = opts.nodeName ?? 'disk0';
  const file: Record<string, unknown> = { driver: 'file', filename: path };
  const bd: Record<string, unknown> = { driver: opts.format ?? 'qcow2', 'node-name': node, discard: 'unmap', file };
  // A throwaway disk (an isolated container's rootfs) need not reach the platter.
  if (opts.cacheUnsafe) bd.cache = { 'no-flush': true };
  const dev = `virtio-blk-pci,drive=${node},id=${node}-dev${opts.bootIndex !== undefined ? `,bootindex=${opts.bootIndex}` : ''}`;
  return ['-blockdev', JSON.stringify(bd), '-device', dev];
}

/** A read-only ISO on the q35 AHCI controller, booted first. */
export function cdrom(path: string): string[] {
  const bd = { driver: 'raw', 'node-name': 'cd0', 'read-only': true, file: { driver: 'file', filename: path, 'read-only': true } };
  return ['-blockdev', JSON.stringify(bd), '-device', 'ide-cd,drive=cd0,bus=ide.0,bootindex=0'];
}

/** A unix socket QEMU listens on (server) or connects to (client). */
export function socketChardev(id: string, path: string, opts: { server: boolean; logfile?: string }): string[] {
  let v = `socket,id=${id},path=${optValue(path)}`;
  if (opts.server) v += ',server=on,wait=off';
  if (opts.logfile) v += `,logfile=${optValue(opts.logfile)},logappend=on`;
  return ['-chardev', v];
}

/** The serial console (ttyS0) on a socket (bound in the VM's q/, see process.ts), everything it prints also appended to console.log. */
export function serialConsole(files: VmFiles): string[] {
  return [...socketChardev('ser0', files.bindPath(files.console), { server: true, logfile: files.consoleLog }), '-serial', 'chardev:ser0'];
}

export function virtioSerial(): string[] {
  return ['-device', 'virtio-serial-pci,id=vser0'];
}

/** A named virtio-serial port (the guest sees /dev/virtio-ports/<name>) backed by chardev `id`. */
export function serialPort(id: string, name: string, nr: number): string[] {
  return ['-device', `virtserialport,bus=vser0.0,nr=${nr},chardev=${id},id=${id}-port,name=${name}`];
}

export function qmp(files: VmFiles): string[] {
  return [...socketChardev('qmp0', files.bindPath(files.qmp), { server: true }), '-mon', 'chardev=qmp0,mode=control'];
}

/** The balloon; with free page reporting the guest hands back pages it frees (about 20 MiB less RSS idle). */
export function balloon(): string[] {
  return ['-device', 'virtio-balloon-pci,id=balloon0,free-page-reporting=on'];
}

/** A file the guest reads from /sys/firmware/qemu_fw_cfg/by_name/<name>/raw. */
export function fwCfg(name: string, path: string): string[] {
  return ['-fw_cfg', `name=${name},file=${optValue(path)}`];
}

/** A network card on a tap device Hull made (already on its bridge): QEMU only opens it, no scripts. */
export function tapNic(id: string, ifname: string, mac: string): string[] {
  return ['-netdev', `tap,id=${id},ifname=${optValue(ifname)},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=${id},mac=${mac},id=${id}-dev`];
}

/**
 * A shared directory (virtiofs): QEMU connects to the virtiofsd listening on
 * `socket` (vhost-user) and the guest mounts `tag`. Needs the guest's RAM
 * shared with virtiofsd (machine.ts, `sharedMemory`).
 */
export function sharedDir(id: string, socket: string, tag: string): string[] {
  return ['-chardev', `socket,id=${id},path=${optValue(socket)}`, '-device', `vhost-user-fs-pci,chardev=${id},tag=${tag}`];
}
