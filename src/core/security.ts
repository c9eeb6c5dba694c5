/**
 * What a container may do beyond (or short of) Hull's secure defaults:
 * docker's knobs, as the user asked for them. The OCI layer turns them into
 * capabilities, device rules and a seccomp filter (runtime/oci/spec.ts).
 * Absent fields mean the default.
 */
export interface SecurityConfig {
  /** Capabilities added to the defaults, `CAP_*` names or `ALL` (--cap-add). */
  capAdd?: string[];
  /** Capabilities dropped from the defaults, `CAP_*` names or `ALL` (--cap-drop). */
  capDrop?: string[];
  /** Host devices given to the container (--device). */
  devices?: DeviceMapping[];
  /** `unconfined`: no seccomp filter; a profile (docker's format, validated): that one instead of the default. */
  seccomp?: 'unconfined' | SeccompProfile;
  /** Every capability and host device, no seccomp, no masked paths, /sys writable (--privileged). */
  privileged?: boolean;
}

/** One host device node, as `--device /dev/x[:/dev/y[:rwm]]` names it. */
export interface DeviceMapping {
  hostPath: string;
  containerPath: string;
  /** Some of r, w, m: read, write, mknod. */
  permissions: string;
}

/**
 * A seccomp profile in docker's format (moby `profiles/seccomp`): the same
 * fields docker reads, checked strictly at create (seccomp-profile.ts).
 */
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures?: string[] }>;
  flags?: string[];
  syscalls?: SeccompSyscall[];
}

export interface SeccompSyscall {
  names?: string[];
  /** Docker's older spelling of one name. */
  name?: string;
  action: string;
  errnoRet?: number;
  args?: Array<{ index: number; value: number; valueTwo?: number; op: string }>;
  comment?: string;
  includes?: SeccompFilter;
  excludes?: SeccompFilter;
}

/** When a rule applies: the container holds these capabilities, runs on these architectures, on at least this kernel. */
export interface SeccompFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}
