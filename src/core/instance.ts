/**
 * Instance: a container or a virtual machine. Both share one lifecycle and one
 * record in the store; `type` picks the driver and `config` holds what the
 * user asked for. Runtime facts (pid, exit code, times) live in `state`.
 *
 * Lifecycle:  creating → created → running ⇄ paused → exited → (removed)
 *             `creating` only exists while a create is in progress; a record
 *             found in that status at daemon start is a half-made leftover.
 */
import type { LogConfig } from './log-config.js';
import type { HealthCheck, HealthState } from './health.js';
import type { NetworkAttachment, NetworkMode, PortMapping } from './network.js';
import type { SecurityConfig } from './security.js';
import type { InstanceMount, VmDiskAttachment } from './volume.js';

export type InstanceType = 'container' | 'vm';
export type Isolation = 'container' | 'vm';
export type InstanceStatus = 'creating' | 'created' | 'running' | 'paused' | 'exited' | 'removing';
export type RestartPolicy = 'no' | 'always' | 'on-failure' | 'unless-stopped';

export interface Resources {
  memoryBytes?: number;
  cpus?: number;
  pidsLimit?: number; // -1 = unlimited
  /** Containers: the most their writable layer may hold (--storage-opt size=), where the filesystem can enforce it. */
  storageBytes?: number;
}

/** A container's own host id range in a user namespace: container ids 0..size-1 are host ids hostUid.. (and hostGid..). */
export interface IdMap {
  hostUid: number;
  hostGid: number;
  size: number;
}

/** The one range every --userns container had before ranges were allocated (records without idMap). */
export const LEGACY_ID_MAP: IdMap = { hostUid: 100000, hostGid: 100000, size: 65536 };

/** The host ids of a --userns container: its own range, or the legacy one for an old record. */
export const idMapOf = (c: Pick<InstanceConfig, 'userns' | 'idMap'>): IdMap | undefined => (c.userns ? (c.idMap ?? LEGACY_ID_MAP) : undefined);

/** A VM's own settings (the QEMU driver reads them, runtime/qemu/spec.ts). */
export interface VmOptions {
  /** The disk's size; at least the image's (default: the image's, or 8 GiB for an ISO install). */
  diskBytes?: number;
  /** A shell script the default guest runs once, at first boot (as root, before it reports ready). */
  userScript?: string;
  /** Extra kernel command-line words, for guests booted with Hull's kernel. */
  kernelArgs?: string[];
  /** SSH public keys for the guest's default user (cloud-init guests; see runtime/qemu/cloud-init.ts). */
  sshKeys?: string[];
  /** The default user's password as a crypt(3) hash (`$6$…`), never the plain text (cloud-init guests). */
  passwordHash?: string;
  /** The user's own cloud-init user-data, given to the guest verbatim instead of Hull's generated one. */
  userData?: string;
}

/**
 * When an exited instance is started again, and how long it waits first: the
 * back-off starts at `delayMs` and doubles per consecutive failed run up to
 * `maxDelayMs`; a run of `windowMs` or more starts the count over. Defaults
 * (plain containers): docker's 100 ms doubling to 1 min, reset after 10 s.
 */
export interface RestartPolicySpec {
  name: RestartPolicy;
  maxRetries?: number;
  delayMs?: number;
  maxDelayMs?: number;
  windowMs?: number;
}

export interface InstanceConfig {
  image: string; // the reference the user gave
  imageId: string; // sha256:... of the image config
  cmd: string[];
  entrypoint: string[];
  env: string[];
  workingDir: string;
  user: string;
  tty: boolean;
  openStdin: boolean;
  autoRemove: boolean;
  runtime: string; // crun | runc
  userns: boolean;
  /** With userns: the range allocated to this container (absent in records made before ranges were allocated: 100000, 65536). */
  idMap?: IdMap;
  noNewPrivileges: boolean;
  /** Containers: tini runs as PID 1 and starts entrypoint+cmd (--init); entrypoint and cmd stay as the user gave them. */
  init?: boolean;
  /** Capabilities, devices, seccomp and --privileged, when not the defaults. */
  security?: SecurityConfig;
  resources: Resources;
  restartPolicy: RestartPolicySpec;
  labels: Record<string, string>;
  hostname: string;
  /** Absent in records made before networks existed: those have loopback only ('none'). */
  networkMode?: NetworkMode;
  /** Networks joined, with the addresses IPAM gave (held from create to rm). */
  networks?: NetworkAttachment[];
  /** Published ports, host ports resolved. */
  ports?: PortMapping[];
  /** Containers: `vm` runs the program in a small VM of its own (IsolatedDriver); absent means `container`. */
  isolation?: Isolation;
  /** VMs only: disk size, first-boot script, kernel arguments. */
  vm?: VmOptions;
  /** How its log is kept (--log-opt, else the daemon's default when it was created); absent in older records: the built-in default. */
  logConfig?: LogConfig;
  /** Containers: volumes, binds and tmpfs mounts, resolved at create (storage/volumes). */
  mounts?: InstanceMount[];
  /** VMs: block volumes attached as disks, in the order attached. */
  disks?: VmDiskAttachment[];
  /** Docker's health check (the image's HEALTHCHECK, --health-*, a service's healthcheck); absent: none. */
  healthcheck?: HealthCheck;
}

export interface InstanceState {
  status: InstanceStatus;
  pid: number;
  conmonPid: number;
  exitCode: number;
  oomKilled: boolean;
  error: string;
  startedAt: string;
  finishedAt: string;
  restartCount: number;
  /** Set when a user stopped the instance, so a restart policy leaves it be. */
  stoppedByUser: boolean;
  /** Failed runs in a row (a long enough run resets it): the restart back-off's exponent. */
  restartStreak?: number;
  /** When a restart policy will start it again (set while it waits out its back-off). */
  nextRestartAt?: string;
  /** Its health, while it runs with a health check. */
  health?: HealthState;
}

/** What owns an instance: a service's replicas name their service; instances made by hand have none. */
export interface OwnerRef {
  kind: 'service';
  id: string;
  name: string;
}

/**
 * `config` is the desired spec, shared by every node that reads the store;
 * `state` is what the node running it observed (pids, exits, health) and
 * belongs to that node (`node`).
 */
export interface Instance {
  id: string;
  name: string;
  type: InstanceType;
  createdAt: string;
  config: InstanceConfig;
  state: InstanceState;
  owner?: OwnerRef;
  /** The id of the node it was placed on (core/node.ts). */
  node?: string;
}

export function newState(): InstanceState {
  return {
    status: 'creating',
    pid: 0,
    conmonPid: 0,
    exitCode: 0,
    oomKilled: false,
    error: '',
    startedAt: '',
    finishedAt: '',
    restartCount: 0,
    stoppedByUser: false,
  };
}
