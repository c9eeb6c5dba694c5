import { HullError } from '../../core/errors.js';
import { grantDisk, revokeDisk } from '../../storage/volumes/disk-access.js';
import type { VmDisk } from '../../storage/volumes/instance-volumes.js';
import { freePort } from './hotplug.js';
import { shQuote } from './config-tar.js';
import type { QmpClient } from './qmp/client.js';

/**
 * Block volumes as virtio disks of a VM: at launch (one PCIe root port each,
 * so each can be unplugged again), or hot-plugged into a running VM through
 * QMP (blockdev-add + device_add on a spare root port) and unplugged
 * (device_del, which the guest acknowledges through PCIe hot-plug, then
 * blockdev-del). The guest sees /dev/vdX appear and go; the volume's name is
 * the disk's serial (`/sys/block/vdX/serial`, udev's /dev/disk/by-id/virtio-NAME).
 *
 * Every disk is named by its volume's id (`vol<12 hex>`, the device
 * `vol<12 hex>-dev`), so the disks of a running VM can be matched against its
 * record after a daemon restart.
 */
const NODE = /^vol([0-9a-f]{12})$/;
export const diskNode = (volumeId: string): string => `vol${volumeId.slice(0, 12)}`;
const diskDevice = (volumeId: string): string => `${diskNode(volumeId)}-dev`;
/** virtio-blk's serial holds 20 bytes. */
const serial = (name: string): string => name.slice(0, 20);

function blockdev(d: VmDisk): Record<string, unknown> {
  return { driver: d.format, 'node-name': diskNode(d.volumeId), discard: 'unmap', file: { driver: 'file', filename: d.path } };
}

/** The launch arguments of attached disks: a root port each (hd0, hd1, …), after the VM's own devices. */
export function launchDiskArgs(disks: VmDisk[]): string[] {
  return disks.flatMap((d, i) => [
    '-device', `pcie-root-port,id=hd${i},chassis=${32 + i},slot=0,io-reserve=0`,
    '-blockdev', JSON.stringify(blockdev(d)),
    '-device', `virtio-blk-pci,drive=${diskNode(d.volumeId)},id=${diskDevice(d.volumeId)},bus=hd${i},serial=${serial(d.name)}`,
  ]);
}

/**
 * For a VM-isolated container's guest (run.sh, before the program): each
 * block volume found by its serial and mounted (ext4) at its target under
 * /newroot (synchronous writes: the guest is powered off without an unmount
 * once the program ends), each tmpfs mounted there; a disk that does not show
 * up in 10 s ends the run with an error, as a missing mount source does for crun.
 */
export function guestMountScript(disks: Array<VmDisk & { target?: string; readOnly?: boolean }>, tmpfs: Array<{ destination: string; type: string; options: string[] }>): string {
  const lines: string[] = [];
  for (const d of disks) {
    if (!d.target) continue;
    const t = shQuote(`/newroot${d.target}`);
    lines.push(
      `d=; n=0; while [ -z "$d" ] && [ $n -lt 100 ]; do for b in /sys/block/vd*; do [ "$(cat $b/serial 2>/dev/null)" = ${shQuote(serial(d.name))} ] && d=\${b##*/}; done; [ -n "$d" ] || usleep 100000; n=$((n+1)); done`,
      `[ -n "$d" ] || { echo "hull: volume ${d.name.replace(/[^\w.-]/g, '')}: no disk" >&2; exit 125; }`,
      // sync: the guest powers off as soon as the program has ended (guest/run), with no unmount, so no write may wait in its cache.
      `mkdir -p ${t} && mount -t ext4 -o nosuid,nodev,sync${d.readOnly ? ',ro' : ''} /dev/$d ${t} || exit 125`,
    );
  }
  for (const m of tmpfs) {
    if (m.type !== 'tmpfs') continue;
    const t = shQuote(`/newroot${m.destination}`);
    lines.push(`mkdir -p ${t} && mount -t tmpfs -o ${shQuote(m.options.join(','))} tmpfs ${t} || exit 125`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

export async function grantLaunchDisks(disks: VmDisk[], qemuUid?: number): Promise<void> {
  for (const d of disks) await grantDisk(d.path, qemuUid);
}

/** Plug a disk into a running VM; undone when the device cannot be added. */
export async function addDisk(qmp: QmpClient, d: VmDisk, qemuUid?: number): Promise<void> {
  const bus = await freePort(qmp, 'disk', 'attached volumes then get disks at launch');
  await grantDisk(d.path, qemuUid);
  await qmp.execute('blockdev-add', blockdev(d));
  try {
    await qmp.execute('device_add', { driver: 'virtio-blk-pci', drive: diskNode(d.volumeId), id: diskDevice(d.volumeId), bus, serial: serial(d.name) });
  } catch (e) {
    await qmp.execute('blockdev-del', { 'node-name': diskNode(d.volumeId) }).catch(() => undefined);
    await revokeDisk(d.path);
    throw e;
  }
}

/**
 * Unplug a disk: the guest is asked (PCIe hot-plug) and QEMU reports the
 * device gone; then the block node is closed, so QEMU holds the file no more.
 * A guest that does not let go in time leaves the disk plugged (an error).
 */
export async function removeDisk(qmp: QmpClient, d: Pick<VmDisk, 'volumeId' | 'path'>, timeoutMs = 60_000): Promise<void> {
  const dev = diskDevice(d.volumeId);
  if ((await pluggedDevices(qmp)).has(dev)) {
    const deleted = qmp.waitEvent('DEVICE_DELETED', (ev) => ev.data?.device === dev, timeoutMs);
    deleted.catch(() => undefined);
    await qmp.execute('device_del', { id: dev });
    await deleted.catch(() => {
      throw new HullError('unavailable', `the guest did not release the disk within ${timeoutMs / 1000} s (is it still mounted or busy in the guest?)`);
    });
  }
  await qmp.execute('blockdev-del', { 'node-name': diskNode(d.volumeId) }).catch((e: unknown) => {
    if (!(e instanceof HullError && /not found|Failed to find/i.test(e.message))) throw e;
  });
  await revokeDisk(d.path);
}

/** The volume ids (12-hex prefixes) of the disks QEMU has as block nodes now. */
export async function diskNodes(qmp: QmpClient): Promise<Set<string>> {
  const nodes = await qmp.execute<Array<{ 'node-name': string }>>('query-named-block-nodes', { flat: true });
  return new Set(nodes.map((n) => NODE.exec(n['node-name'])?.[1]).filter((x): x is string => !!x));
}

interface PciDevice {
  qdev_id: string;
  pci_bridge?: { devices?: PciDevice[] };
}

async function pluggedDevices(qmp: QmpClient): Promise<Set<string>> {
  const buses = await qmp.execute<Array<{ devices: PciDevice[] }>>('query-pci');
  const all = (ds: PciDevice[]): PciDevice[] => ds.flatMap((d) => [d, ...all(d.pci_bridge?.devices ?? [])]);
  return new Set(all(buses.flatMap((b) => b.devices)).map((d) => d.qdev_id));
}
