import type { OciDeviceRule, OciMount } from './spec-types.js';

/**
 * The secure defaults a container gets, as docker and podman ship them
 * (moby `oci/defaults.go`, `oci/caps/defaults.go`; containers/common
 * `pkg/config/default.go`). Kept as data so tests and `hull inspect` can show them.
 */

/**
 * Podman's 11 default capabilities: docker's 14 less NET_RAW (raw sockets:
 * ARP and neighbour spoofing on a shared bridge), MKNOD and AUDIT_WRITE.
 * ping still works without NET_RAW: the container's network namespace lets
 * every group send ICMP echo (net.ipv4.ping_group_range, spec.ts).
 */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
];

/** What the kernel shows in /proc/PID/status for DEFAULT_CAPABILITIES (CapEff of a root process). */
export const DEFAULT_CAPABILITIES_MASK = 0x800405fbn;

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Default pids.max when the user sets no limit; -1 asks for none. */
export const DEFAULT_PIDS_LIMIT = 2048;

/**
 * The smallest memory limit accepted, as docker's. Below about 2 MiB runc
 * cannot even start the container (`unable to set memory limit to N (current
 * usage: ...)`), crun fails with `OOM: the memory limit could be too low` or
 * the process is OOM-killed (137) before it runs.
 */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;

/** Hidden from the container: bind-mounted over with /dev/null (files) or an empty read-only tmpfs (dirs). */
export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** Kernel knobs left visible but remounted read-only. */
export const READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const chr = (major: number | undefined, minor: number | undefined, access = 'rwm'): OciDeviceRule => ({
  allow: true,
  type: 'c',
  ...(major === undefined ? {} : { major }),
  ...(minor === undefined ? {} : { minor }),
  access,
});

/**
 * The device cgroup allow-list: deny everything, then allow the pseudo devices
 * every program expects. mknod of any node is allowed (docker's `c *:* m`,
 * `b *:* m`) so that image tools can create nodes they can never open.
 */
export const DEFAULT_DEVICE_RULES: readonly OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  chr(undefined, undefined, 'm'),
  { allow: true, type: 'b', access: 'm' },
  chr(1, 3), // null
  chr(1, 5), // zero
  chr(1, 7), // full
  chr(1, 8), // random
  chr(1, 9), // urandom
  chr(5, 0), // tty
  chr(5, 1), // console
  chr(5, 2), // ptmx
  chr(136, undefined), // pts/*
];

/**
 * The filesystems every container gets. With a user namespace the kernel
 * refuses a fresh sysfs unless the container also owns its network
 * namespace (and Hull may hand it one made outside), so /sys becomes a
 * read-only recursive bind of the host's, as podman does. Only its top is
 * read-only ("rro" would need kernel 5.12); the submounts under it are the
 * host's, writable only by host root, which the mapped root is not, and
 * /sys/fs/cgroup is covered by the container's own. /dev/pts can only be
 * given group tty (gid 5) if that gid is mapped. A privileged container gets
 * /sys and its cgroups writable, as under docker.
 */
export function defaultMounts(opts: { userns?: { size: number }; privileged?: boolean }): OciMount[] {
  const ttyGid = !opts.userns || opts.userns.size > 5 ? ['gid=5'] : [];
  const rw = opts.privileged ? 'rw' : 'ro';
  const sys: OciMount = opts.userns
    ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
    : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', rw] };
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...ttyGid],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    sys,
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', rw] },
  ];
}
