import { availableParallelism } from 'node:os';
import { readFile } from 'node:fs/promises';
import { HullError } from '../../core/errors.js';
import { formatSize } from '../../core/units.js';
import { accelArgs, type Accel } from './accel.js';
import * as dev from './devices.js';
import { hotplugPorts } from './hotplug.js';
import { launchDiskArgs } from './disk-hotplug.js';
import type { VmDisk } from '../../storage/volumes/instance-volumes.js';
import { seedPath } from './cloud-init.js';
import type { VmFiles } from './files.js';
import type { GuestArtifacts } from './guest.js';
import type { VmSpec } from './spec.js';
import type { TapDevice } from '../driver.js';

/**
 * The QEMU command line for a VM. `machineArgs` is the part every Hull VM
 * shares (also the isolated containers' VMs); `vmArgv` adds a full VM's
 * devices: disk, CD, serial console, guest agent port, balloon, QMP, and
 * first-boot configuration (fw_cfg for Hull's guest, a cloud-init seed disk for
 * the others).
 */
export interface MachineOptions {
  accel: Accel;
  memoryBytes: number;
  cpus: number;
  name: string;
  /** The guest's RAM in a shared memfd, which a vhost-user device's server (virtiofsd) maps: needed for shared directories. */
  sharedMemory?: boolean;
}

export const AGENT_PORT = 'org.hull.agent';
export const CONFIG_FW_CFG = 'opt/org.hull.config';

export function machineArgs(m: MachineOptions): string[] {
  return [
    '-name', `guest=${dev.optValue(m.name)},debug-threads=on`,
    '-machine', m.sharedMemory ? 'q35,vmport=off,memory-backend=mem' : 'q35,vmport=off',
    ...accelArgs(m.accel),
    '-m', `${memoryMiB(m.memoryBytes)}M`,
    ...(m.sharedMemory ? ['-object', `memory-backend-memfd,id=mem,size=${memoryMiB(m.memoryBytes)}M,share=on`] : []),
    '-smp', String(vcpus(m.cpus)),
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-rtc', 'base=utc',
    // QEMU's seccomp filter with every group denied: no obsolete syscalls, no set*uid/set*gid/setsid
    // (elevateprivileges), no fork/exec (spawn), no scheduler or affinity changes (resourcecontrol).
    // QEMU is therefore not -daemonize'd (its fork and setsid come after the filter): process.ts.
    ...SANDBOX,
  ];
}

export const SANDBOX_OPTS = 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny';
const SANDBOX = ['-sandbox', SANDBOX_OPTS];

export const memoryMiB = (bytes: number): number => Math.ceil(bytes / (1024 * 1024));
/** --cpus 0.5 still needs one whole vCPU. */
export const vcpus = (cpus: number): number => Math.max(1, Math.ceil(cpus));

export interface LaunchOptions {
  accel: Accel;
  guest: GuestArtifacts;
  /** Stop before the guest runs its first instruction (`-S`): init, not start. */
  paused: boolean;
  /** Resume a full snapshot instead of booting. */
  loadvm?: string;
  /** Tap devices on the networks' bridges, one virtio-net card each (in order: eth0, eth1, …). */
  taps?: TapDevice[];
  /** Spare PCIe root ports for cards and disks hot-added later (`network connect`, `vm disk attach`; about 2–4% of a TCG boot). */
  spareSlots?: boolean;
  /** Block volumes attached as disks, each on a root port of its own (disk-hotplug.ts). */
  disks?: VmDisk[];
}

export function vmArgv(spec: VmSpec, files: VmFiles, o: LaunchOptions): string[] {
  const argv = machineArgs({ accel: o.accel, memoryBytes: spec.memoryBytes, cpus: spec.cpus, name: spec.hostname });
  if (spec.image.boot === 'hull') {
    const append = ['console=ttyS0', 'quiet', 'panic=-1', 'hull.root=/dev/vda', ...spec.kernelArgs].join(' ');
    argv.push('-kernel', o.guest.kernel, '-initrd', o.guest.initrd, '-append', append);
    argv.push(...dev.fwCfg(CONFIG_FW_CFG, files.config));
  } else {
    argv.push('-boot', 'strict=on');
  }
  argv.push(...dev.disk(files.disk, { bootIndex: spec.image.boot === 'firmware' ? 1 : undefined }));
  if (spec.cdrom) argv.push(...dev.cdrom(spec.cdrom));
  argv.push(...dev.serialConsole(files));
  argv.push(...dev.virtioSerial(), ...dev.socketChardev('agent0', files.bindPath(files.agent), { server: true }), ...dev.serialPort('agent0', AGENT_PORT, 1));
  for (const [i, t] of (o.taps ?? []).entries()) argv.push(...dev.tapNic(`n${i}`, t.name, t.mac));
  argv.push(...dev.balloon(), ...dev.qmp(files));
  // Guests that boot their own disk get the cloud-init NoCloud seed (cloud-init.ts), after the devices above so they keep their addresses.
  if (spec.image.boot !== 'hull') argv.push(...seedDisk(seedPath(files)));
  // Attached volumes, then spare PCIe root ports, last so the cards above keep their addresses:
  // `network connect` and `vm disk attach` hot-add there.
  argv.push(...launchDiskArgs(o.disks ?? []));
  if (o.spareSlots) argv.push(...hotplugPorts());
  // A guest poweroff leaves QEMU up, stopped, until Hull has recorded the exit and says quit:
  // a daemon that was down meanwhile still learns how the VM ended.
  argv.push('-no-shutdown');
  if (o.paused) argv.push('-S');
  if (o.loadvm) argv.push('-loadvm', o.loadvm);
  return argv;
}

/**
 * The seed ISO as a read-only virtio disk (/dev/vdb; cloud-init finds it by its `cidata` label), not a
 * CD: Debian's cloud kernel, like other cloud images' kernels, has no AHCI driver, so a CD on q35's
 * SATA controller is invisible to it (seen: cloud-init fell back to DataSourceNone). No bootindex.
 */
export function seedDisk(path: string): string[] {
  const bd = { driver: 'raw', 'node-name': 'seed0', 'read-only': true, file: { driver: 'file', filename: path, 'read-only': true } };
  return ['-blockdev', JSON.stringify(bd), '-device', 'virtio-blk-pci,drive=seed0,id=seed0-dev'];
}

/** Refuse a VM the host cannot hold: more memory than MemAvailable, more vCPUs than host CPUs. */
export async function checkHostResources(memoryBytes: number, cpus: number): Promise<void> {
  const avail = await memAvailable();
  if (avail !== undefined && memoryBytes > avail) {
    throw new HullError('resource', `not enough memory: the VM asks for ${formatSize(memoryBytes)} and the host has ${formatSize(avail)} available`);
  }
  const host = availableParallelism();
  if (vcpus(cpus) > host) throw new HullError('resource', `too many CPUs: the VM asks for ${vcpus(cpus)} and the host has ${host}`);
}

export async function memAvailable(): Promise<number | undefined> {
  const text = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/**
 * The guest's network, as the `network` file of the config tar: one line per
 * card, `nic MAC ADDRESS/PREFIX [GATEWAY]`, then `nameserver ADDRESS`. The
 * guest's rc finds each card by its MAC address.
 */
export function networkConfig(taps: TapDevice[]): string {
  const lines = taps.map((t) => `nic ${t.mac} ${t.address}/${t.prefixLen}${t.gateway ? ` ${t.gateway}` : ''}`);
  const ns = taps.find((t) => t.nameserver)?.nameserver;
  if (ns) lines.push(`nameserver ${ns}`);
  return lines.join('\n') + '\n';
}
