import { constants } from 'node:fs';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HullError } from '../../core/errors.js';
import { run } from '../../sys/run.js';
import { kvmGroups } from './confine.js';
import type { GuestArtifacts } from './guest.js';
import { QEMU } from './process.js';

/**
 * Which accelerator QEMU gets: KVM when it works here, TCG (software
 * emulation) otherwise. `HULL_VM_ACCEL=tcg|kvm` forces one.
 *
 * A /dev/kvm that opens is not enough: under some nested hypervisors QEMU
 * starts with `-accel kvm` and the guest then crawls (70 s to decompress the
 * kernel) or dies with "KVM internal error". So, when /dev/kvm is there and
 * readable and writable, Hull boots its own guest kernel under KVM once with
 * `hull.probe=1` (the initramfs prints a marker and powers off: about 0.3 s
 * where KVM works) and uses KVM only if the marker arrives in time. The answer
 * is kept for this boot of the host (keyed by /proc/sys/kernel/random/boot_id).
 */
export type Accel = 'kvm' | 'tcg';

export interface AccelChoice {
  accel: Accel;
  /** Why, for `inspect` and `hull info`. */
  reason: string;
}

export const PROBE_TIMEOUT_MS = 8000;
export const DEFAULT_CACHE = '/run/hull/qemu-accel.json';

let memo: Promise<AccelChoice> | undefined;

/** The accelerator for this host, probed once per process (and cached per host boot in `cacheFile`). */
export function chooseAccel(guest: GuestArtifacts, cacheFile = DEFAULT_CACHE): Promise<AccelChoice> {
  const forced = process.env.HULL_VM_ACCEL;
  if (forced) return forcedAccel(forced);
  memo ??= detect(guest, cacheFile).catch((e: unknown) => {
    memo = undefined;
    throw e;
  });
  return memo;
}

async function forcedAccel(forced: string): Promise<AccelChoice> {
  if (forced === 'tcg') return { accel: 'tcg', reason: 'HULL_VM_ACCEL=tcg' };
  if (forced !== 'kvm') throw new HullError('invalid', `HULL_VM_ACCEL="${forced}": use kvm or tcg`);
  if (!(await kvmAccessible())) throw new HullError('unavailable', 'HULL_VM_ACCEL=kvm but /dev/kvm is missing or not readable and writable');
  if (runsUnprivileged() && !(await kvmGroups())) throw new HullError('unavailable', `HULL_VM_ACCEL=kvm but ${KVM_ROOT_ONLY}`);
  return { accel: 'kvm', reason: 'HULL_VM_ACCEL=kvm' };
}

/** QEMU runs as a user of its own whenever Hull runs as root (confine.ts). */
const runsUnprivileged = () => process.getuid?.() === 0;
const KVM_ROOT_ONLY = "/dev/kvm is root's alone: QEMU runs as an unprivileged user, which cannot open it (give it a group, as udev does: root:kvm 0660)";

const kvmAccessible = () => access('/dev/kvm', constants.R_OK | constants.W_OK).then(() => true, () => false);

async function detect(guest: GuestArtifacts, cacheFile: string): Promise<AccelChoice> {
  if (!(await kvmAccessible())) return { accel: 'tcg', reason: 'no usable /dev/kvm' };
  if (runsUnprivileged() && !(await kvmGroups())) return { accel: 'tcg', reason: KVM_ROOT_ONLY };
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
  const key = `${bootId} ${guest.kernelRelease}`;
  const cached = await readFile(cacheFile, 'utf8').then((t) => JSON.parse(t) as AccelChoice & { key: string }, () => undefined);
  if (cached && cached.key === key) return { accel: cached.accel, reason: cached.reason };
  const choice = await probeKvm(guest);
  await mkdir(dirname(cacheFile), { recursive: true })
    .then(() => writeFile(cacheFile, JSON.stringify({ ...choice, key })))
    .catch(() => undefined);
  return choice;
}

/** Boot the guest under KVM to its first marker; TCG unless it gets there within PROBE_TIMEOUT_MS. */
export async function probeKvm(guest: GuestArtifacts): Promise<AccelChoice> {
  const t0 = Date.now();
  const argv = [QEMU, '-machine', 'q35', '-accel', 'kvm', '-cpu', 'host', '-nodefaults', '-no-user-config', '-display', 'none'];
  argv.push('-m', '128', '-no-reboot', '-serial', 'stdio', '-kernel', guest.kernel, '-initrd', guest.initrd);
  argv.push('-append', 'console=ttyS0 quiet panic=-1 hull.probe=1');
  try {
    const r = await run(argv, { timeoutMs: PROBE_TIMEOUT_MS, allowFailure: true });
    if (r.stdout.includes('HULL_PROBE_OK')) return { accel: 'kvm', reason: `/dev/kvm works (guest booted in ${Date.now() - t0} ms)` };
    const why = r.stderr.trim().split('\n')[0] || `exit code ${r.code}`;
    return { accel: 'tcg', reason: `/dev/kvm is there but a KVM guest failed: ${why}` };
  } catch {
    return { accel: 'tcg', reason: `/dev/kvm is there but a KVM guest did not boot within ${PROBE_TIMEOUT_MS} ms` };
  }
}

/** The -accel/-cpu words for QEMU. TCG's translation cache is capped: the default (1 GiB) shows up in RSS. */
export function accelArgs(a: Accel): string[] {
  return a === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,tb-size=64', '-cpu', 'max'];
}
