import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { HullError, invalid } from '../../core/errors.js';
import { formatSize } from '../../core/units.js';
import {
  DEFAULT_CAPABILITIES,
  DEFAULT_DEVICE_RULES,
  DEFAULT_PATH,
  DEFAULT_PIDS_LIMIT,
  MASKED_PATHS,
  MIN_MEMORY_BYTES,
  READONLY_PATHS,
  defaultMounts,
} from './defaults.js';
import { defaultSeccomp } from './seccomp.js';
import { INIT_PATH } from './init-binary.js';
import type { OciDevice, OciDeviceRule, OciLinux, OciNamespace, OciProcess, OciResources, OciSeccomp, OciSpec } from './spec-types.js';

export type { OciSpec } from './spec-types.js';

/**
 * What one container's config.json is built from. Everything not here is a
 * secure default (see defaults.ts and seccomp.ts); the driver fills this from
 * the instance config, the image config and resolveUser().
 */
export interface SpecOptions {
  /** Absolute path of the container's root filesystem (the merged overlay). */
  rootfs: string;
  args: string[];
  env: string[];
  /** Absolute working directory inside the container; default '/'. */
  cwd?: string;
  user: { uid: number; gid: number; additionalGids?: number[] };
  terminal: boolean;
  hostname: string;
  /** cgroupfs-style path, e.g. '/hull/<id>'; the runtime creates it under each controller. */
  cgroupsPath: string;
  memoryBytes?: number;
  cpus?: number;
  /** -1 = unlimited; undefined = DEFAULT_PIDS_LIMIT. */
  pidsLimit?: number;
  noNewPrivileges: boolean;
  /** Opt-in user namespace: container ids 0..size-1 are host uids hostId.. and host gids hostGid (default hostId)... */
  userns?: { hostId: number; hostGid?: number; size: number };
  /** Join this network namespace (made by Hull's network layer) instead of a fresh one with only loopback. */
  netnsPath?: string;
  /** With userns and netnsPath: the user namespace that owns that network namespace, joined instead of a fresh one. */
  usernsPath?: string;
  /** Share the host's network namespace (--network host): no network namespace, no network sysctls. */
  hostNetwork?: boolean;
  /** Give the container its own cgroup namespace; default true. */
  cgroupns?: boolean;
  /** RLIMIT_NOFILE soft and hard; never above what the host lets us set (hostNofileLimit()). */
  nofile: number;
  readonlyRootfs?: boolean;
  /** The capability set (resolveCapabilities in capabilities.ts); default DEFAULT_CAPABILITIES. */
  capabilities?: readonly string[];
  /** Host devices made in the container's /dev and allowed in its device cgroup (--device, or every one with privileged). */
  devices?: SpecDevice[];
  /** `unconfined`: no filter; a seccomp section: that one; absent: the default for the capabilities and devices. */
  seccomp?: 'unconfined' | OciSeccomp;
  /** docker's --privileged: every device allowed, no masked or read-only paths, /sys and the cgroup mount writable. */
  privileged?: boolean;
  /** --init: the host's tini-static, bound at INIT_PATH and run as PID 1 with `args` after `--` (init-binary.ts). */
  init?: string;
  /** Extra mounts, after the defaults (so they may cover them). */
  mounts?: Array<{ destination: string; source: string; type: string; options: string[] }>;
}

/** A host device node as the container gets it: at `path`, with `access` (some of r, w, m). */
export interface SpecDevice extends OciDevice {
  access: string;
}

const OCI_VERSION = '1.0.2';
const CPU_PERIOD_US = 100_000;
/** RLIMIT_NOFILE is never set above this, even where the host allows more (as containerd). */
export const MAX_NOFILE = 1_048_576;

export function buildSpec(o: SpecOptions): OciSpec {
  validate(o);
  return {
    ociVersion: OCI_VERSION,
    process: buildProcess(o),
    root: { path: o.rootfs, readonly: o.readonlyRootfs ?? false },
    ...(o.hostname ? { hostname: o.hostname } : {}),
    mounts: [...defaultMounts({ userns: o.userns, privileged: o.privileged }), ...(o.mounts ?? []).map((m) => ({ ...m, options: [...m.options] })), ...initMounts(o)],
    linux: buildLinux(o),
  };
}

function buildProcess(o: SpecOptions): OciProcess {
  const caps = [...(o.capabilities ?? DEFAULT_CAPABILITIES)];
  const additionalGids = o.user.additionalGids?.length ? [...o.user.additionalGids] : undefined;
  return {
    terminal: o.terminal,
    user: { uid: o.user.uid, gid: o.user.gid, ...(additionalGids ? { additionalGids } : {}) },
    args: o.init ? [INIT_PATH, '--', ...o.args] : [...o.args],
    env: buildEnv(o),
    cwd: o.cwd || '/',
    // Inheritable stays empty (CVE-2022-24769) and ambient too, so a non-root
    // user's program starts with no effective capabilities, as under docker.
    capabilities: { bounding: caps, effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] },
    rlimits: [{ type: 'RLIMIT_NOFILE', soft: o.nofile, hard: o.nofile }],
    noNewPrivileges: o.noNewPrivileges,
  };
}

/** The init's bind mount, last so that no mount of the user's (a tmpfs on /run) covers it. */
export function initMounts(o: Pick<SpecOptions, 'init'>): Array<{ destination: string; source: string; type: string; options: string[] }> {
  if (!o.init) return [];
  return [{ destination: INIT_PATH, source: o.init, type: 'bind', options: ['bind', 'ro', 'nosuid', 'nodev'] }];
}

/** The user's env, plus PATH, HOSTNAME and (with a terminal) TERM when missing, as docker adds them. */
export function buildEnv(o: Pick<SpecOptions, 'env' | 'terminal' | 'hostname'>): string[] {
  const env = [...o.env];
  const has = (k: string) => env.some((e) => e.startsWith(`${k}=`));
  if (!has('PATH')) env.unshift(`PATH=${DEFAULT_PATH}`);
  if (!has('HOSTNAME') && o.hostname) env.push(`HOSTNAME=${o.hostname}`);
  if (o.terminal && !has('TERM')) env.push('TERM=xterm');
  return env;
}

function buildLinux(o: SpecOptions): OciLinux {
  const resources = buildResources(o);
  const seccomp = seccompFor(o, resources.devices);
  const linux: OciLinux = {
    namespaces: namespaces(o),
    resources,
    cgroupsPath: o.cgroupsPath,
    ...(seccomp ? { seccomp } : {}),
    maskedPaths: o.privileged ? [] : [...MASKED_PATHS],
    readonlyPaths: o.privileged ? [] : [...READONLY_PATHS],
    sysctl: sysctls(o),
  };
  if (o.devices?.length) linux.devices = o.devices.map(({ access: _a, ...d }) => ({ ...d }));
  if (o.userns) {
    const map = [{ containerID: 0, hostID: o.userns.hostId, size: o.userns.size }];
    linux.uidMappings = map;
    linux.gidMappings = [{ containerID: 0, hostID: o.userns.hostGid ?? o.userns.hostId, size: o.userns.size }];
  }
  return linux;
}

function seccompFor(o: SpecOptions, devices: readonly OciDeviceRule[]): OciSeccomp | undefined {
  if (o.privileged || o.seccomp === 'unconfined') return undefined;
  return o.seccomp ?? defaultSeccomp(o.capabilities ?? DEFAULT_CAPABILITIES, process.arch, devices);
}

function namespaces(o: SpecOptions): OciNamespace[] {
  const ns: OciNamespace[] = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
  ];
  if (!o.hostNetwork) ns.push(o.netnsPath ? { type: 'network', path: o.netnsPath } : { type: 'network' });
  if (o.cgroupns ?? true) ns.push({ type: 'cgroup' });
  if (o.userns) ns.push(o.usernsPath ? { type: 'user', path: o.usernsPath } : { type: 'user' });
  return ns;
}

/**
 * Namespaced sysctls docker sets for a container with its own network: any
 * user may bind low ports and send ICMP echo (the container is its own host,
 * so neither guards anything). ping_group_range names gids, which must be
 * mapped inside a user namespace, so there it covers only the mapped range.
 */
function sysctls(o: SpecOptions): Record<string, string> {
  // A user namespace cannot write the sysctls of a network namespace made
  // outside it: Hull's network layer sets these from the host instead.
  if (o.hostNetwork || (o.userns && o.netnsPath)) return {};
  const lastGid = o.userns ? o.userns.size - 1 : 2147483647;
  return {
    'net.ipv4.ip_unprivileged_port_start': '0',
    'net.ipv4.ping_group_range': `0 ${lastGid}`,
  };
}

/** Deny every device, allow the pseudo devices and the asked-for ones (privileged: allow all). */
function deviceRules(o: SpecOptions): OciDeviceRule[] {
  if (o.privileged) return [{ allow: true, access: 'rwm' }];
  const asked = (o.devices ?? []).map((d): OciDeviceRule => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.access }));
  return [...DEFAULT_DEVICE_RULES.map((d) => ({ ...d })), ...asked];
}

function buildResources(o: SpecOptions): OciResources {
  const r: OciResources = { devices: deviceRules(o) };
  // swap = limit: no swap beyond the memory limit (v2: memory.swap.max = 0).
  if (o.memoryBytes !== undefined) r.memory = { limit: o.memoryBytes, swap: o.memoryBytes };
  if (o.cpus !== undefined) r.cpu = { quota: Math.round(o.cpus * CPU_PERIOD_US), period: CPU_PERIOD_US };
  const pids = o.pidsLimit ?? DEFAULT_PIDS_LIMIT;
  if (pids !== -1) r.pids = { limit: pids };
  return r;
}

/** Whether the container may open /dev/net/tun (c 10:200): only when asked for, or privileged. */
export function allowsTun(spec: OciSpec): boolean {
  return spec.linux.resources.devices.some((d) => d.allow && /[rw]/.test(d.access) && (!d.type || d.type === 'a' || (d.type === 'c' && (d.major ?? 10) === 10 && (d.minor ?? 200) === 200)));
}

const isUint = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

function validate(o: SpecOptions): void {
  if (!isAbsolute(o.rootfs)) throw invalid(`rootfs "${o.rootfs}" must be an absolute path`);
  if (o.args.length === 0) throw invalid('no command to run: give a command or use an image with one');
  if (o.init !== undefined && !isAbsolute(o.init)) throw invalid(`init "${o.init}" must be an absolute path`);
  if (o.cwd && !isAbsolute(o.cwd)) throw invalid(`working directory "${o.cwd}" must be an absolute path`);
  if (!isUint(o.user.uid) || !isUint(o.user.gid)) throw invalid(`invalid user ${o.user.uid}:${o.user.gid}`);
  if (!isAbsolute(o.cgroupsPath)) throw invalid(`cgroups path "${o.cgroupsPath}" must be absolute`);
  if (!Number.isSafeInteger(o.nofile) || o.nofile < 1) throw invalid(`invalid nofile limit ${o.nofile}`);
  if (o.memoryBytes !== undefined && (!Number.isSafeInteger(o.memoryBytes) || o.memoryBytes <= 0))
    throw invalid(`invalid memory limit ${o.memoryBytes}`);
  if (o.memoryBytes !== undefined && o.memoryBytes < MIN_MEMORY_BYTES)
    throw new HullError('resource', `memory limit ${formatSize(o.memoryBytes)} is too small: the minimum is ${formatSize(MIN_MEMORY_BYTES)}`);
  if (o.cpus !== undefined && !(o.cpus > 0 && Number.isFinite(o.cpus))) throw invalid(`invalid cpus ${o.cpus}`);
  if (o.pidsLimit !== undefined && o.pidsLimit !== -1 && !(Number.isSafeInteger(o.pidsLimit) && o.pidsLimit > 0))
    throw invalid(`invalid pids limit ${o.pidsLimit}: use a positive number, or -1 for none`);
  if (o.userns && !(isUint(o.userns.hostId) && isUint(o.userns.hostGid ?? 0) && Number.isSafeInteger(o.userns.size) && o.userns.size > 0))
    throw invalid(`invalid user namespace mapping ${o.userns.hostId}:${o.userns.size}`);
  if (o.usernsPath && !o.userns) throw invalid('a user namespace path needs the mapping it was made with');
  if (o.privileged && o.userns) throw invalid('--privileged and --userns cannot be used together: a privileged container is root on the host');
  for (const d of o.devices ?? []) {
    if (!isAbsolute(d.path) || !['c', 'b'].includes(d.type) || !/^[rwm]+$/.test(d.access) || !isUint(d.major) || !isUint(d.minor))
      throw invalid(`invalid device ${d.path} (${d.type} ${d.major}:${d.minor} ${d.access})`);
  }
  if (o.userns && (o.user.uid >= o.userns.size || o.user.gid >= o.userns.size))
    throw invalid(`user ${o.user.uid}:${o.user.gid} is outside the user namespace's ${o.userns.size} ids`);
}

/**
 * The RLIMIT_NOFILE hard limit of this process, which is the most a container
 * may get: without CAP_SYS_RESOURCE (or in a user namespace) the runtime cannot
 * raise it, and crun/runc fail with `setrlimit RLIMIT_NOFILE: Operation not permitted`.
 */
export function hostNofileLimit(limitsFile = '/proc/self/limits'): number {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'utf8');
  } catch {
    return 1024;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return 1024;
  const hard = m[2] === 'unlimited' ? MAX_NOFILE : Number(m[2]);
  return Number.isSafeInteger(hard) && hard > 0 ? Math.min(hard, MAX_NOFILE) : 1024;
}
