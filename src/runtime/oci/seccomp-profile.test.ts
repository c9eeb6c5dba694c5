import { describe, expect, it } from 'vitest';
import { MAX_PROFILE_BYTES, parseSeccompProfile, profileToOci } from './seccomp-profile.js';

/** A profile in the shape docker's own default.json has (archMap with a null, includes and excludes). */
const dockerStyle = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: null },
  ],
  syscalls: [
    { names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
    { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] },
    { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
    { names: ['set_tls'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm', 'arm64'] } },
    { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }], excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] } },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: { caps: ['CAP_SYS_ADMIN'] }, comment: 'libc falls back to clone' },
    { name: 'futex', action: 'SCMP_ACT_ALLOW', includes: {}, excludes: {} },
  ],
};

const names = (s: ReturnType<typeof profileToOci>) => s.syscalls.flatMap((r) => r.names);

describe('parseSeccompProfile', () => {
  it("takes docker's format, nulls included", () => {
    const p = parseSeccompProfile(JSON.stringify(dockerStyle));
    expect(p.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(p.archMap?.[2].subArchitectures).toBeUndefined();
    expect(p.syscalls).toHaveLength(9);
  });

  it('refuses what a runtime would not run, saying where', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ defaultAction: 'SCMP_ACT_NOTIFY' }, /defaultAction: SCMP_ACT_NOTIFY needs a seccomp listener/],
      [{ defaultAction: 'ALLOW' }, /unknown action "ALLOW"/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', bogus: 1 }, /Unrecognized key: "bogus"/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }] }, /syscalls\.0\.args\.0\.index/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'EQ' }] }] }, /syscalls\.0\.args\.0\.op/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 18446744073709551615, op: 'SCMP_CMP_EQ' }] }] }, /above 2\^53/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ALLOW' }] }, /give names or name/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['Mkdir;rm'], action: 'SCMP_ACT_ALLOW' }] }, /a system call name/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] }, /not both/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['x86_64'] }, /architectures\.0/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['SYS_ADMIN'] } }] }, /CAP_SYS_ADMIN/],
    ];
    for (const [profile, msg] of bad) expect(() => parseSeccompProfile(JSON.stringify(profile)), msg.source).toThrow(msg);
    expect(() => parseSeccompProfile('{"defaultAction":')).toThrow(/not JSON/);
    expect(() => parseSeccompProfile('[]')).toThrow(/invalid seccomp profile/);
    expect(() => parseSeccompProfile(' '.repeat(MAX_PROFILE_BYTES + 1))).toThrow(/too large/);
  });
});

describe('profileToOci', () => {
  const p = parseSeccompProfile(JSON.stringify(dockerStyle));

  it('picks the architectures of this machine from archMap', () => {
    expect(profileToOci(p, [], '6.1.0', 'x64').architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(profileToOci(p, [], '6.1.0', 'arm64').architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  });

  it("keeps a rule only where its includes hold and its excludes do not, as docker's setupSeccomp", () => {
    const plain = profileToOci(p, ['CAP_KILL'], '6.1.0-18-amd64', 'x64');
    expect(names(plain)).toEqual(['read', 'write', 'exit_group', 'ptrace', 'socket', 'arch_prctl', 'clone', 'clone3', 'futex']);
    expect(plain.syscalls.find((r) => r.names[0] === 'clone3')).toEqual({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
    const admin = profileToOci(p, ['CAP_SYS_ADMIN'], '6.1.0', 'x64');
    expect(names(admin)).toContain('mount');
    expect(names(admin)).not.toContain('clone');
    expect(names(admin)).not.toContain('clone3');
    expect(names(profileToOci(p, [], '4.4.0', 'x64'))).not.toContain('ptrace');
    expect(names(profileToOci(p, [], '6.1.0', 'arm64'))).toEqual(expect.arrayContaining(['set_tls']));
    expect(profileToOci(p, [], '6.1.0', 'x64')).toMatchObject({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1 });
  });
});
