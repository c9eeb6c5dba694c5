import type { Instance, InstanceType, Resources } from '../core/instance.js';
import type { IdMap, RootMount } from '../storage/root-dir.js';
import type { StorageContext } from '../storage/volumes/instance-volumes.js';

/**
 * Driver: one kind of instance (an OCI container, a QEMU virtual machine)
 * behind the one Instance lifecycle. The engine owns the record in the store
 * and calls the driver for the machine-side work; a driver keeps no state of
 * its own beyond files under the instance's directory, so a restarted daemon
 * picks up where the last one stopped.
 *
 *   create(inst)     lay out what the instance needs (root filesystem, config); runs nothing
 *   init(inst)       set up the process under its monitor without letting it run (attachable)
 *   start(inst)      let it run (init first when needed)
 *   stop/kill/pause/resume
 *   exitStatus(inst) once the monitor reports an exit: the code and whether OOM killed it
 *   release(inst)    after an exit: free runtime resources (runtime state, mounts), keep files
 *   remove(inst)     delete everything the instance owns; idempotent, safe on a half-made one
 */
export interface RuntimeStatus {
  status: 'created' | 'running' | 'paused' | 'stopped' | 'absent';
  pid: number;
}

export interface ExitStatus {
  exitCode: number;
  oomKilled: boolean;
  finishedAt: string;
}

export interface Stats {
  memoryUsage: number;
  memoryLimit: number;
  cpuUsageNs: number;
  pids: number;
  pidsLimit: number;
}

export interface Process {
  pid: number;
  user: string;
  cpuTime: string;
  command: string;
}

/**
 * A client's view of an instance's stdio. Input has flow control where the
 * driver can give it: `write` answering false means "hold on until an
 * onDrain callback runs", so a relay pauses its source rather than
 * buffering without bound (a driver that never answers false has none).
 * `closeStdin` is the end of input, delivered after every byte written.
 */
export interface StdioStream {
  onData(cb: (stream: 'stdout' | 'stderr', data: Buffer) => void): void;
  onClose(cb: () => void): void;
  write(data: Buffer): boolean | void;
  onDrain?(cb: () => void): void;
  closeStdin(): void;
  close(): void;
}

export interface ExecOptions {
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
  tty: boolean;
  stdin: boolean;
  /** With tty: the terminal's size from the start, so a program that reads it at once sees the caller's, not 0×0. */
  consoleSize?: { rows: number; cols: number };
}

export interface ExecSession {
  id: string;
  stdio: StdioStream;
  /** Start the process (after the caller has hooked up stdio). Resolves with its pid. */
  start(): Promise<number>;
  exitCode: Promise<number>;
  resize(rows: number, cols: number): Promise<void>;
}

export interface CreateContext {
  layerDirs: string[];
  /** Where the instance's network comes from (set by the engine's network layer when it starts). */
  network?: NetworkContext;
  /** Its volumes (storage/volumes): a container's bind and tmpfs mounts, a VM's block-volume disks. */
  storage?: StorageContext;
}

/**
 * An instance's network, made before it starts. A container joins
 * `netnsPath` (a named network namespace with its veth pairs), or the host's
 * network, or (neither) a fresh namespace with only loopback; `mounts` carry
 * /etc/hosts, /etc/resolv.conf and /etc/hostname. A VM gets `taps`, one per
 * network, already on the network's bridge: QEMU opens each
 * (`-netdev tap,ifname=NAME,script=no,downscript=no`, `-device virtio-net-pci,mac=MAC`)
 * and the guest is given the address, gateway and name server.
 */
export interface NetworkContext {
  netnsPath?: string;
  /** With --userns: the user namespace that owns netnsPath, for the container to join (see net/link.ts addUsernsNetns). */
  usernsPath?: string;
  hostNetwork?: boolean;
  mounts: Array<{ destination: string; source: string; type: string; options: string[] }>;
  taps?: TapDevice[];
}

export interface TapDevice {
  name: string;
  mac: string;
  address: string;
  prefixLen: number;
  /** Set on the tap that carries the default route. */
  gateway?: string;
  nameserver: string;
}

export interface RootfsView {
  path: string;
  release: () => Promise<void>;
  mounts?: RootMount[];
  ids?: IdMap;
}

/**
 * `hull cp` where an instance's files are not a root filesystem on the host
 * (a VM-isolated container's are on its VM's disk, which the host never
 * mounts): the tar streams are made and taken where the files are.
 *
 *   pack(src)          a tar of src.path (docker cp's source rules: src.top names its first entry);
 *                      untrusted bytes, for the client only: the daemon never extracts them
 *   probe(path)        what the destination is there (a trailing symlink followed), and its resolved path
 *   unpack(dir, tar)   a tar (made by the daemon) extracted into the directory dir (resolved by probe)
 */
export interface FileCopier {
  pack(src: { path: string; top: string; followLast: boolean; mustBeDir: boolean }): Promise<{ stream: NodeJS.ReadableStream; done: Promise<void> }>;
  probe(path: string): Promise<{ kind: 'dir' | 'file' | 'missing' | 'dangling' | 'noparent'; resolved: string }>;
  unpack(dir: string, archive: NodeJS.ReadableStream): Promise<void>;
}

export interface Driver {
  readonly type: InstanceType;
  create(inst: Instance, ctx: CreateContext): Promise<void>;
  init(inst: Instance, ctx: CreateContext): Promise<{ pid: number; monitorPid: number }>;
  start(inst: Instance, ctx: CreateContext): Promise<{ pid: number; monitorPid: number }>;
  stop(inst: Instance, timeoutSec: number, signal?: string): Promise<void>;
  kill(inst: Instance, signal: string): Promise<void>;
  pause(inst: Instance): Promise<void>;
  resume(inst: Instance): Promise<void>;
  status(inst: Instance): Promise<RuntimeStatus>;
  /** undefined while the instance has not exited. */
  exitStatus(inst: Instance): Promise<ExitStatus | undefined>;
  release(inst: Instance): Promise<void>;
  remove(inst: Instance): Promise<void>;
  attach(inst: Instance): Promise<StdioStream>;
  resize(inst: Instance, rows: number, cols: number): Promise<void>;
  /** Change a running instance's limits in place; drivers that cannot leave it out. */
  update?(inst: Instance, r: Resources): Promise<void>;
  exec(inst: Instance, opts: ExecOptions): Promise<ExecSession>;
  stats(inst: Instance): Promise<Stats>;
  top(inst: Instance): Promise<Process[]>;
  logPath(inst: Instance): string;
  /**
   * The instance's root filesystem on the host, mounted for the caller until
   * release(), with the host files bind-mounted over it (`mounts`) and its
   * user namespace (`ids`), so a copy sees what the container sees.
   */
  rootfs(inst: Instance, ctx: CreateContext): Promise<RootfsView>;
  /**
   * The files a new instance starts from, for docker's copy-up into its empty volumes, where
   * they are not a root filesystem on the host (a VM-isolated container's are on a VM disk:
   * here its image's layers, merged read-only). Without it, the copy-up reads rootfs().
   */
  imageFiles?(inst: Instance, ctx: CreateContext): Promise<RootfsView>;
  /** cp through the instance itself, where its files are not on the host (FileCopier); without it, cp reads rootfs(). */
  copier?(inst: Instance): Promise<FileCopier>;
  /** Is the monitor (conmon, qemu) still alive? */
  monitorAlive(inst: Instance): Promise<boolean>;
}
