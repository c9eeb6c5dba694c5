import { HullError } from '../../core/errors.js';
import { DEFAULT_DEVICE_RULES } from './defaults.js';
import type { OciDeviceRule, OciSeccomp, OciSeccompArg, OciSyscallRule } from './spec-types.js';

/**
 * Hull's default seccomp profile: an allow-list in the shape of docker's
 * (moby `profiles/seccomp/default.json`). Anything not listed fails with
 * EPERM. Rules that docker grants only with a capability are kept here with
 * that capability, so a container given, say, CAP_SYS_PTRACE gets the calls
 * that go with it; `defaultSeccomp(caps)` resolves them for one capability set.
 *
 * Refused for the default capability set, among others: kexec_load,
 * init_module/finit_module/delete_module, mount/umount2/pivot_root and the new
 * mount API, reboot, swapon/swapoff, bpf, perf_event_open, keyctl/add_key/
 * request_key, unshare, setns, clone with CLONE_NEW* flags, open_by_handle_at
 * and name_to_handle_at, userfaultfd, acct, settimeofday/clock_settime,
 * iopl/ioperm, quotactl, lookup_dcookie, vm86, io_uring_* (docker dropped them
 * in 25.0), and personality other than a few safe values.
 *
 * Where we differ from docker: name_to_handle_at is refused (docker allows
 * it); mknod/mknodat make a character device only if the device cgroup lets
 * it be opened (docker lets any be made, and runc's own device rules then let
 * /dev/net/tun be opened: see mknodRules); get_mempolicy/mbind/set_mempolicy are allowed without CAP_SYS_NICE, as
 * podman does (they act on the caller's own memory); a few calls newer than
 * docker's list are allowed, each marked below.
 *
 * Names the host's libseccomp does not know are skipped, not refused, by both
 * runtimes. Such a call then fails with EPERM under crun 1.8 but ENOSYS under
 * runc, which answers ENOSYS for every call newer than its libseccomp knows
 * (seen with mseal on libseccomp 2.5.4); libc falls back only on ENOSYS.
 */

/** Allowed for every container, in alphabetical order. */
export const ALLOWED_SYSCALLS: readonly string[] = [
  '_llseek', '_newselect', 'accept', 'accept4', 'access', 'adjtimex', 'alarm', 'bind', 'brk',
  'cachestat', // newer than docker's list: page cache stats of the caller's own files
  'capget', 'capset', 'chdir', 'chmod', 'chown', 'chown32',
  'clock_adjtime', 'clock_adjtime64', 'clock_getres', 'clock_getres_time64', 'clock_gettime',
  'clock_gettime64', 'clock_nanosleep', 'clock_nanosleep_time64',
  'close', 'close_range', 'connect', 'copy_file_range', 'creat', 'dup', 'dup2', 'dup3',
  'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2',
  'epoll_wait', 'epoll_wait_old', 'eventfd', 'eventfd2', 'execve', 'execveat', 'exit', 'exit_group',
  'faccessat', 'faccessat2', 'fadvise64', 'fadvise64_64', 'fallocate', 'fanotify_mark',
  'fchdir', 'fchmod', 'fchmodat',
  'fchmodat2', // glibc ≥ 2.39 tries it first and only falls back on ENOSYS
  'fchown', 'fchown32', 'fchownat', 'fcntl', 'fcntl64', 'fdatasync', 'fgetxattr', 'flistxattr', 'flock',
  'fork', 'fremovexattr', 'fsetxattr', 'fstat', 'fstat64', 'fstatat64', 'fstatfs', 'fstatfs64', 'fsync',
  'ftruncate', 'ftruncate64', 'futex', 'futex_requeue', 'futex_time64', 'futex_wait', 'futex_waitv',
  'futex_wake', 'futimesat',
  'get_mempolicy', 'get_robust_list', 'get_thread_area', 'getcpu', 'getcwd', 'getdents', 'getdents64',
  'getegid', 'getegid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getgroups', 'getgroups32',
  'getitimer', 'getpeername', 'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority', 'getrandom',
  'getresgid', 'getresgid32', 'getresuid', 'getresuid32', 'getrlimit', 'getrusage', 'getsid',
  'getsockname', 'getsockopt', 'gettid', 'gettimeofday', 'getuid', 'getuid32', 'getxattr',
  'inotify_add_watch', 'inotify_init', 'inotify_init1', 'inotify_rm_watch',
  'io_cancel', 'io_destroy', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64', 'io_setup',
  'io_submit', 'ioctl', 'ioprio_get', 'ioprio_set', 'ipc', 'kill',
  'landlock_add_rule', 'landlock_create_ruleset', 'landlock_restrict_self',
  'lchown', 'lchown32', 'lgetxattr', 'link', 'linkat', 'listen', 'listxattr', 'llistxattr',
  'lremovexattr', 'lseek', 'lsetxattr', 'lstat', 'lstat64', 'madvise',
  'map_shadow_stack', // CET shadow stacks for the caller's own threads
  'mbind', 'membarrier', 'memfd_create', 'memfd_secret', 'mincore', 'mkdir', 'mkdirat',
  'mlock', 'mlock2', 'mlockall', 'mmap', 'mmap2', 'mprotect',
  'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedreceive_time64', 'mq_timedsend',
  'mq_timedsend_time64', 'mq_unlink', 'mremap',
  'mseal', // seals the caller's own mappings
  'msgctl', 'msgget', 'msgrcv', 'msgsnd', 'msync', 'munlock', 'munlockall', 'munmap',
  'nanosleep', 'newfstatat', 'open', 'openat', 'openat2', 'pause',
  'pidfd_open', 'pidfd_send_signal', 'pipe', 'pipe2', 'pkey_alloc', 'pkey_free', 'pkey_mprotect',
  'poll', 'ppoll', 'ppoll_time64', 'prctl', 'pread64', 'preadv', 'preadv2', 'prlimit64', 'process_mrelease',
  // ptrace: docker allows it from kernel 4.8 on, where seccomp can no longer be bypassed
  // through it; Node 20 needs a newer kernel than that anyway.
  'process_vm_readv', 'process_vm_writev', 'ptrace',
  'pselect6', 'pselect6_time64', 'pwrite64', 'pwritev', 'pwritev2',
  'read', 'readahead', 'readlink', 'readlinkat', 'readv', 'recv', 'recvfrom', 'recvmmsg',
  'recvmmsg_time64', 'recvmsg', 'remap_file_pages', 'removexattr', 'rename', 'renameat', 'renameat2',
  'restart_syscall', 'rmdir', 'rseq',
  'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend',
  'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'rt_tgsigqueueinfo',
  'sched_get_priority_max', 'sched_get_priority_min', 'sched_getaffinity', 'sched_getattr',
  'sched_getparam', 'sched_getscheduler', 'sched_rr_get_interval', 'sched_rr_get_interval_time64',
  'sched_setaffinity', 'sched_setattr', 'sched_setparam', 'sched_setscheduler', 'sched_yield',
  'seccomp', 'select', 'semctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64',
  'send', 'sendfile', 'sendfile64', 'sendmmsg', 'sendmsg', 'sendto',
  'set_mempolicy', 'set_robust_list', 'set_thread_area', 'set_tid_address',
  'setfsgid', 'setfsgid32', 'setfsuid', 'setfsuid32', 'setgid', 'setgid32', 'setgroups', 'setgroups32',
  'setitimer', 'setpgid', 'setpriority', 'setregid', 'setregid32', 'setresgid', 'setresgid32',
  'setresuid', 'setresuid32', 'setreuid', 'setreuid32', 'setrlimit', 'setsid', 'setsockopt',
  'setuid', 'setuid32', 'setxattr', 'shmat', 'shmctl', 'shmdt', 'shmget', 'shutdown',
  'sigaltstack', 'signalfd', 'signalfd4', 'sigprocmask', 'sigreturn', 'socketcall', 'socketpair', 'splice',
  'stat', 'stat64', 'statfs', 'statfs64', 'statx', 'symlink', 'symlinkat', 'sync', 'sync_file_range',
  'syncfs', 'sysinfo', 'tee', 'tgkill', 'time',
  'timer_create', 'timer_delete', 'timer_getoverrun', 'timer_gettime', 'timer_gettime64',
  'timer_settime', 'timer_settime64', 'timerfd_create', 'timerfd_gettime', 'timerfd_gettime64',
  'timerfd_settime', 'timerfd_settime64', 'times', 'tkill', 'truncate', 'truncate64',
  'ugetrlimit', 'umask', 'uname', 'unlink', 'unlinkat', 'utime', 'utimensat', 'utimensat_time64', 'utimes',
  'vfork', 'vmsplice', 'wait4', 'waitid', 'waitpid', 'write', 'writev',
];

/** Calls allowed only with a capability: a container with the capability has the power anyway. */
export const CAPABILITY_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_ADMIN: [
    'bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie',
    'mount', 'mount_setattr', 'move_mount', 'open_tree', 'perf_event_open', 'pivot_root', 'quotactl',
    'quotactl_fd', 'setdomainname', 'sethostname', 'setns', 'syslog', 'umount', 'umount2', 'unshare',
  ],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['delete_module', 'init_module', 'finit_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: ['set_mempolicy_home_node'],
  CAP_SYSLOG: ['syslog'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
};

// Linux clone flags that create namespaces (uapi/linux/sched.h).
const CLONE_NEWNS = 0x00020000;
const CLONE_NEWCGROUP = 0x02000000;
const CLONE_NEWUTS = 0x04000000;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWPID = 0x20000000;
const CLONE_NEWNET = 0x40000000;
export const CLONE_NAMESPACE_FLAGS =
  CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

const AF_VSOCK = 40;
const ENOSYS = 38;
const EPERM = 1;

const eq = (index: number, value: number): OciSeccompArg => ({ index, value, op: 'SCMP_CMP_EQ' });

/** personality(2) values that only query or pick Linux semantics: PER_LINUX, PER_LINUX32, UNAME26 variants, query. */
const SAFE_PERSONALITIES = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

interface ArchProfile {
  architectures: string[];
  extra: string[];
}

const ARCHES: Record<string, ArchProfile> = {
  x64: { architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], extra: ['arch_prctl', 'modify_ldt'] },
  arm64: {
    architectures: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
    extra: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'],
  },
};

/** The rules that depend on arguments rather than on the name alone. */
function argumentRules(caps: ReadonlySet<string>): OciSyscallRule[] {
  const rules: OciSyscallRule[] = [
    // Every socket family except vsock, which would reach the host's hypervisor services.
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] },
    ...SAFE_PERSONALITIES.map((v): OciSyscallRule => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [eq(0, v)] })),
  ];
  if (!caps.has('CAP_SYS_ADMIN')) {
    // fork and threads, never new namespaces: (flags & NS_FLAGS) == 0.
    rules.push({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    // clone3 passes its flags in memory seccomp cannot read; ENOSYS makes libc fall back to clone.
    rules.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return rules;
}

// mode_t file types (uapi/linux/stat.h).
const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;
const OTHER_FILE_TYPES = [0, 0o100000, 0o010000, 0o140000, 0o060000]; // regular (0 is regular too), fifo, socket, block
/** The kernel's dev_t for mknod (new_encode_dev); the call takes 32 bits, so the mask ignores the upper half. */
const encodeDev = (major: number, minor: number) => ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
const DEV_MASK = 0xffffffff;
const MAJOR_MASK = 0x000fff00;

/**
 * mknod and mknodat (mode is argument 1 and 2, dev 2 and 3): any file type but
 * a character device, and a character device only if the device cgroup lets
 * it be read or written. So a container given CAP_MKNOD cannot make, say,
 * /dev/net/tun, which runc (unlike crun) always allows in the device cgroup.
 */
export function mknodRules(devices: readonly OciDeviceRule[]): OciSyscallRule[] {
  const open = devices.filter((d) => d.allow && (d.type === 'c' || d.type === 'a' || !d.type) && /[rw]/.test(d.access));
  const rules: OciSyscallRule[] = [];
  for (const [name, mode, dev] of [['mknod', 1, 2], ['mknodat', 2, 3]] as const) {
    const type = (value: number): OciSeccompArg => ({ index: mode, value: S_IFMT, valueTwo: value, op: 'SCMP_CMP_MASKED_EQ' });
    if (open.some((d) => d.type !== 'c' || d.major === undefined)) {
      rules.push({ names: [name], action: 'SCMP_ACT_ALLOW' });
      continue;
    }
    for (const t of OTHER_FILE_TYPES) rules.push({ names: [name], action: 'SCMP_ACT_ALLOW', args: [type(t)] });
    for (const d of open) {
      const major = d.major as number;
      const match: OciSeccompArg =
        d.minor === undefined
          ? { index: dev, value: MAJOR_MASK, valueTwo: major << 8, op: 'SCMP_CMP_MASKED_EQ' }
          : { index: dev, value: DEV_MASK, valueTwo: encodeDev(major, d.minor), op: 'SCMP_CMP_MASKED_EQ' };
      rules.push({ names: [name], action: 'SCMP_ACT_ALLOW', args: [type(S_IFCHR), match] });
    }
  }
  return rules;
}

/**
 * The seccomp section for a container holding `caps` (CAP_* names), on this
 * machine's architecture, whose device cgroup has `devices`.
 */
export function defaultSeccomp(caps: readonly string[], arch: string = process.arch, devices: readonly OciDeviceRule[] = DEFAULT_DEVICE_RULES): OciSeccomp {
  const profile = ARCHES[arch];
  if (!profile) throw new HullError('unavailable', `no default seccomp profile for architecture ${arch}`);
  const capSet = new Set(caps);
  const names = new Set([...ALLOWED_SYSCALLS, ...profile.extra]);
  for (const [cap, calls] of Object.entries(CAPABILITY_SYSCALLS)) {
    if (capSet.has(cap)) for (const c of calls) names.add(c);
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: profile.architectures,
    syscalls: [{ names: [...names].sort(), action: 'SCMP_ACT_ALLOW' }, ...argumentRules(capSet), ...mknodRules(devices)],
  };
}
