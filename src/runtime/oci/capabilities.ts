import { HullError, invalid } from '../../core/errors.js';
import { DEFAULT_CAPABILITIES } from './defaults.js';

/** Every capability Linux defines, in bit order (uapi/linux/capability.h; CAP_CHECKPOINT_RESTORE is 40). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * A capability as docker takes it: any case, with or without `CAP_`; `ALL`
 * stays `ALL`. An unknown name is refused, as docker refuses it.
 */
export function normalizeCapability(name: string, flag: string): string {
  const up = name.trim().toUpperCase();
  if (up === 'ALL') return 'ALL';
  const cap = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!ALL_CAPABILITIES.includes(cap)) throw invalid(`invalid ${flag}: unknown capability "${name}"`);
  return cap;
}

/**
 * The capability set of a container, as docker's TweakCapabilities makes it:
 * privileged gets all; `--cap-add ALL` gets all but the dropped ones;
 * `--cap-drop ALL` gets only the added ones; otherwise the defaults less the
 * dropped, plus the added. `available` (the daemon's own bounding set) bounds
 * every set: a runtime cannot give a capability the daemon does not hold.
 */
export function resolveCapabilities(o: { capAdd?: string[]; capDrop?: string[]; privileged?: boolean }, available: readonly string[] = ALL_CAPABILITIES): string[] {
  const all = ALL_CAPABILITIES.filter((c) => available.includes(c));
  if (o.privileged) return [...all];
  const add = (o.capAdd ?? []).map((c) => normalizeCapability(c, '--cap-add'));
  const drop = (o.capDrop ?? []).map((c) => normalizeCapability(c, '--cap-drop'));
  let caps: string[];
  if (add.includes('ALL')) caps = all.filter((c) => !drop.includes(c));
  else if (drop.includes('ALL')) caps = add;
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c)), ...add];
  const missing = add.filter((c) => c !== 'ALL' && !all.includes(c));
  if (missing.length) throw new HullError('unavailable', `cannot add ${missing.join(', ')}: the daemon itself does not hold it on this host`);
  return [...new Set(caps)].filter((c) => all.includes(c));
}
