import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES } from './defaults.js';
import { ALLOWED_SYSCALLS, CLONE_NAMESPACE_FLAGS, defaultSeccomp } from './seccomp.js';

const allowedNames = (caps: readonly string[]) => {
  const s = defaultSeccomp(caps, 'x64');
  return new Set(s.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));
};

describe('defaultSeccomp', () => {
  const profile = defaultSeccomp(DEFAULT_CAPABILITIES, 'x64');
  const allowed = allowedNames(DEFAULT_CAPABILITIES);

  it('is an allow-list that refuses everything else with EPERM, for x86_64, x86 and x32', () => {
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.defaultErrnoRet).toBe(1);
    expect(profile.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  });

  it('allows what ordinary programs need', () => {
    for (const c of ['read', 'write', 'openat', 'execve', 'mmap', 'futex', 'epoll_wait', 'fork', 'wait4', 'chroot', 'arch_prctl', 'rseq'])
      expect(allowed, c).toContain(c);
  });

  it('refuses the dangerous calls for the default capabilities', () => {
    const refused = [
      'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'mount', 'umount2', 'pivot_root',
      'fsopen', 'fsmount', 'move_mount', 'open_tree', 'reboot', 'swapon', 'swapoff', 'bpf', 'perf_event_open',
      'keyctl', 'add_key', 'request_key', 'unshare', 'setns', 'open_by_handle_at', 'name_to_handle_at', 'userfaultfd',
      'acct', 'settimeofday', 'clock_settime', 'iopl', 'ioperm', 'quotactl', 'lookup_dcookie', 'vm86', 'vm86old',
      'io_uring_setup', 'sethostname', 'syslog', 'kcmp', 'clone', 'clone3', 'personality', 'socket',
    ];
    for (const c of refused) expect(allowed, c).not.toContain(c);
    const names = profile.syscalls.flatMap((r) => r.names);
    for (const c of ['kexec_load', 'mount', 'unshare', 'setns', 'keyctl', 'bpf', 'reboot']) expect(names, c).not.toContain(c);
  });

  it('allows clone only without namespace flags, and makes clone3 fall back to it', () => {
    const clone = profile.syscalls.find((r) => r.names.includes('clone'));
    expect(clone).toEqual({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    expect(CLONE_NAMESPACE_FLAGS).toBe(0x7e020000);
    expect(profile.syscalls.find((r) => r.names.includes('clone3'))).toMatchObject({ action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
  });

  it('allows personality only for the safe values and socket for all but AF_VSOCK', () => {
    const values = profile.syscalls.filter((r) => r.names[0] === 'personality').map((r) => r.args?.[0].value);
    expect(values).toEqual([0, 8, 0x20000, 0x20008, 0xffffffff]);
    expect(profile.syscalls.find((r) => r.names[0] === 'socket')?.args).toEqual([{ index: 0, value: 40, op: 'SCMP_CMP_NE' }]);
  });

  it('grants the calls that go with an added capability, as docker does', () => {
    const admin = defaultSeccomp([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], 'x64');
    const names = new Set(admin.syscalls.filter((r) => !r.args && r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names));
    expect(names).toContain('mount');
    expect(names).toContain('clone');
    expect(admin.syscalls.some((r) => r.names.includes('clone3') && r.action === 'SCMP_ACT_ERRNO')).toBe(false);
    expect(allowedNames(['CAP_SYS_TIME'])).toContain('settimeofday');
    expect(allowedNames([])).not.toContain('chroot');
  });

  it('knows arm64 and refuses an architecture it has no profile for', () => {
    const arm = defaultSeccomp(DEFAULT_CAPABILITIES, 'arm64');
    expect(arm.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(arm.syscalls[0].names).not.toContain('arch_prctl');
    expect(() => defaultSeccomp(DEFAULT_CAPABILITIES, 'mips')).toThrow(/no default seccomp profile/);
  });

  it('keeps the list free of duplicates', () => {
    expect(new Set(ALLOWED_SYSCALLS).size).toBe(ALLOWED_SYSCALLS.length);
  });
});
