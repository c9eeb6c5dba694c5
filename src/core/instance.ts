/**
 * Instance: a container or a virtual machine. Both share one lifecycle and one
 * record in the store; `type` picks the driver and `config` holds what the
 * user asked for. Runtime facts (pid, exit code, times) live in `state`.
 *
 * Lifecycle:  creating → created → running ⇄ paused → exited → (removed)
 *             `creating` only exists while a create is in progress; a record
 *             found in that status at daemon start is a half-made leftover.
 */
import type { NetworkAttachment, NetworkMode, PortMapping } from './network.js';

export type InstanceType = 'container' | 'vm';
export type InstanceStatus = 'creating' | 'created' | 'running' | 'paused' | 'exited' | 'removing';
export type RestartPolicy = 'no' | 'always' | 'on-failure' | 'unless-stopped';

export interface Resources {
  memoryBytes?: number;
  cpus?: number;
  pidsLimit?: number; // -1 = unlimited
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
  noNewPrivileges: boolean;
  resources: Resources;
  restartPolicy: { name: RestartPolicy; maxRetries?: number };
  labels: Record<string, string>;
  hostname: string;
  /** Absent in records made before networks existed: those have loopback only ('none'). */
  networkMode?: NetworkMode;
  /** Networks joined, with the addresses IPAM gave (held from create to rm). */
  networks?: NetworkAttachment[];
  /** Published ports, host ports resolved. */
  ports?: PortMapping[];
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
}

export interface Instance {
  id: string;
  name: string;
  type: InstanceType;
  createdAt: string;
  config: InstanceConfig;
  state: InstanceState;
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
