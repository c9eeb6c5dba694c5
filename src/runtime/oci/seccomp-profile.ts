import { z } from 'zod';
import { invalid } from '../../core/errors.js';
import type { SeccompFilter, SeccompProfile } from '../../core/security.js';
import type { OciSeccomp, OciSyscallRule, SeccompAction, SeccompOperator } from './spec-types.js';

/**
 * A user's seccomp profile (`--security-opt seccomp=PROFILE.json`), in
 * docker's format: parsed strictly (unknown fields, actions, operators and
 * architectures refused) and turned into the OCI section for one container,
 * resolving `archMap` and each rule's `includes`/`excludes` the way docker's
 * setupSeccomp does. SCMP_ACT_NOTIFY needs a listener Hull does not run.
 */
const ACTIONS = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG',
] as const;
const OPS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;
const ARCHES = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_LOONGARCH64',
] as const;
const FLAGS = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] as const;

/** The most a profile may hold: docker's default is about 20 KB and 400 names. */
export const MAX_PROFILE_BYTES = 1 << 20;
const MAX_RULES = 4096;

const action = z.string().superRefine((a, ctx) => {
  if ((ACTIONS as readonly string[]).includes(a)) return;
  const message = a === 'SCMP_ACT_NOTIFY' ? 'SCMP_ACT_NOTIFY needs a seccomp listener, which Hull does not run' : `unknown action "${a}" (use one of ${ACTIONS.join(', ')})`;
  ctx.addIssue({ code: 'custom', message });
});
const errno = z.number().int().min(0).max(4095);
const u64 = z.number().int().min(0).refine(Number.isSafeInteger, 'above 2^53: not representable exactly');
const arch = z.enum(ARCHES);
const capName = z.string().regex(/^CAP_[A-Z_]+$/, 'a capability, as CAP_SYS_ADMIN');
/** Go writes an empty slice as null: docker's own default.json has `"subArchitectures": null`. */
const list = <T extends z.ZodType>(t: T) => z.array(t).nullish().transform((v) => v ?? undefined);
const filter = z.object({ caps: list(capName), arches: list(z.string()), minKernel: z.string().regex(/^\d+\.\d+$/, 'as 4.8').optional() }).strict();

const syscall = z
  .object({
    names: list(z.string().regex(/^[a-z0-9_]+$/, 'a system call name')),
    name: z.string().regex(/^[a-z0-9_]+$/).optional(),
    action,
    errnoRet: errno.optional(),
    args: list(z.object({ index: z.number().int().min(0).max(5), value: u64, valueTwo: u64.optional(), op: z.enum(OPS) }).strict()),
    comment: z.string().optional(),
    includes: filter.optional(),
    excludes: filter.optional(),
  })
  .strict()
  .refine((s) => (s.names?.length ?? 0) > 0 !== (s.name !== undefined), 'give names or name (one of them)');

export const SeccompProfileSchema = z
  .object({
    defaultAction: action,
    defaultErrnoRet: errno.optional(),
    architectures: list(arch),
    archMap: list(z.object({ architecture: arch, subArchitectures: list(arch) }).strict()),
    flags: list(z.enum(FLAGS)),
    syscalls: z.array(syscall).max(MAX_RULES).nullish().transform((v) => v ?? undefined),
  })
  .strict()
  .refine((p) => !(p.architectures?.length && p.archMap?.length), 'give architectures or archMap, not both');

/** Parse a profile's JSON text; every problem is an `invalid` error that says where. */
export function parseSeccompProfile(text: string): SeccompProfile {
  if (Buffer.byteLength(text) > MAX_PROFILE_BYTES) throw invalid(`seccomp profile is too large (at most ${MAX_PROFILE_BYTES} bytes)`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw invalid(`seccomp profile is not JSON: ${(e as Error).message}`);
  }
  const r = SeccompProfileSchema.safeParse(json);
  if (!r.success) throw invalid(`invalid seccomp profile: ${r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** The libseccomp name of this machine's architecture (docker's nativeArch). */
const NATIVE: Record<string, string> = { x64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64', ia32: 'SCMP_ARCH_X86', arm: 'SCMP_ARCH_ARM', ppc64: 'SCMP_ARCH_PPC64LE', s390x: 'SCMP_ARCH_S390X', riscv64: 'SCMP_ARCH_RISCV64' };
const ARCH_WORDS: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/**
 * The OCI section for a container holding `caps` (bounding set) on `arch`
 * with `kernel` (as `6.1.0-...`): the rules whose includes hold and whose
 * excludes do not, as docker resolves them.
 */
export function profileToOci(p: SeccompProfile, caps: readonly string[], kernel: string, arch: string = process.arch): OciSeccomp {
  const native = NATIVE[arch];
  const architectures = p.archMap?.length
    ? p.archMap.filter((a) => a.architecture === native).flatMap((a) => [a.architecture, ...(a.subArchitectures ?? [])])
    : [...(p.architectures ?? [])];
  const applies = (f: SeccompFilter | undefined, include: boolean): boolean => {
    if (!f) return include;
    const archOk = !f.arches?.length || f.arches.includes(ARCH_WORDS[arch] ?? arch);
    const capsOk = !f.caps?.length || (include ? f.caps.every((c) => caps.includes(c)) : f.caps.some((c) => caps.includes(c)));
    const kernelOk = !f.minKernel || kernelAtLeast(kernel, f.minKernel);
    return include ? archOk && capsOk && kernelOk : (!!f.arches?.length && archOk) || (!!f.caps?.length && capsOk) || (!!f.minKernel && kernelOk);
  };
  const syscalls: OciSyscallRule[] = [];
  for (const s of p.syscalls ?? []) {
    if (applies(s.excludes, false) || !applies(s.includes, true)) continue;
    syscalls.push({
      names: s.names?.length ? [...s.names] : [s.name as string],
      action: s.action as SeccompAction,
      ...(s.errnoRet !== undefined ? { errnoRet: s.errnoRet } : {}),
      ...(s.args?.length ? { args: s.args.map((a) => ({ index: a.index, value: a.value, ...(a.valueTwo !== undefined ? { valueTwo: a.valueTwo } : {}), op: a.op as SeccompOperator })) } : {}),
    });
  }
  return {
    defaultAction: p.defaultAction as SeccompAction,
    ...(p.defaultErrnoRet !== undefined ? { defaultErrnoRet: p.defaultErrnoRet } : {}),
    architectures,
    ...(p.flags?.length ? { flags: [...p.flags] } : {}),
    syscalls,
  };
}

function kernelAtLeast(kernel: string, min: string): boolean {
  const [a = 0, b = 0] = kernel.split(/[.-]/).map(Number);
  const [x, y] = min.split('.').map(Number);
  return a > x || (a === x && b >= y);
}
