import type { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { EventLog } from '../core/events.js';
import { psRows } from './ps-rows.js';
import { copyIn, copyOut, type CopyTarget } from './copy.js';
import { HullError, invalid, notFound, wrongState } from '../core/errors.js';
import { checkName, newId, randomName } from '../core/ids.js';
import type { HealthCheck } from '../core/health.js';
import type { Instance, OwnerRef, Resources, RestartPolicySpec } from '../core/instance.js';
import type { ImageService } from '../image/image-service.js';
import type { NetworkAttachment } from '../core/network.js';
import type { NetworkManager, NicHotplug } from '../net/manager.js';
import type { ExecOptions, ExecSession, StdioStream } from '../runtime/driver.js';
import type { HostInfo } from '../runtime/host.js';
import type { DriverRegistry } from '../runtime/registry.js';
import type { Store } from '../store/store.js';
import { CreateOptionsSchema, type CreateOptions, type ParsedCreateOptions } from './create-options.js';
import type { VmImages } from '../runtime/qemu/images.js';
import { VmCreateSchema, type VmCreateOptions } from './vm-options.js';
import { containerRecord, parse, vmRecord, withExposed } from './records.js';
import type { Logger } from './logger.js';
import type { LogConfig } from '../core/log-config.js';
import { Reverter } from '../core/reverter.js';
import { VolumeOps } from './volume-ops.js';
import type { InstanceVolumes } from '../storage/volumes/instance-volumes.js';
import type { Volumes } from '../storage/volumes/volumes.js';
import type { QemuDriver } from '../runtime/qemu/driver.js';
import { Instances, noun } from '../orchestrator/instances/instances.js';
import { Recovery } from '../orchestrator/instances/recovery.js';
import { watchExits } from '../orchestrator/instances/exit-watcher.js';
import type { IdRanges } from '../orchestrator/instances/id-ranges.js';

export { BUILD_LABEL } from '../orchestrator/instances/recovery.js';

const MIN_MEMORY = 6 * 1024 * 1024; // docker's floor: below this nothing starts reliably

export interface EngineDeps {
  root: string;
  store: Store;
  images: ImageService;
  drivers: DriverRegistry;
  /** Where monitors report exits (conmon's --exit-dir, QEMU's exit reporters). */
  exitDir: string;
  /** VM images; absent (with `vmUnavailable` saying why) when the guest is not built. */
  vmImages?: VmImages;
  vmUnavailable?: string;
  host: HostInfo;
  log: Logger;
  net: NetworkManager;
  /** Host id ranges for --userns containers (one each); without it every one gets the legacy 100000. */
  idRanges?: IdRanges;
  /** The writable-layer size of a container that asks for none (hull daemon --storage-opt size=). */
  defaultStorageBytes?: number;
  /** Where events go (shared with the image service and the network manager); a fresh log if not given. */
  events?: EventLog;
  /** How logs are kept when a create does not say (`hull daemon --log-opt`). */
  logDefaults?: LogConfig;
  /** Volumes (storage/volumes): the records, and each instance's mounts and disks. */
  volumes: Volumes;
  storage: InstanceVolumes;
}

export type { InstanceAction } from '../orchestrator/instances/instances.js';

/** What the orchestrator adds to a record it makes (a service's replica). */
export interface Placement {
  owner?: OwnerRef;
  node?: string;
  restart?: RestartPolicySpec;
  /** A VM replica's health check (a container's comes through its create options). */
  healthcheck?: HealthCheck;
}

/**
 * Engine: the one front the API, the CLI (through the API) and the dashboard
 * go through. It checks requests (strict options, names, what the host can
 * do), builds the records, finds instances by name or id, and hands the
 * lifecycle to the orchestrator's Instances; what only some drivers can do
 * (snapshots, hot-plugged cards) it asks the driver registry for.
 */
export class Engine {
  readonly instances: Instances;
  /** The events users see (`hull events`, GET /v1/events). */
  readonly eventLog: EventLog;
  private stopWatch?: () => void;

  constructor(private d: EngineDeps) {
    this.eventLog = d.events ?? new EventLog();
    this.instances = new Instances({ store: d.store, drivers: d.drivers, net: d.net, images: d.images, log: d.log, idRanges: d.idRanges, events: this.eventLog, storage: d.storage });
    this.volumes = new VolumeOps({
      get: (ref) => this.get(ref),
      locked: (id, fn) => this.instances.withLock(id, fn),
      mustGet: (id) => this.instances.mustGet(id),
      vm: () => this.d.drivers.kind('vm') as QemuDriver,
      volumes: () => this.d.volumes,
      storage: () => this.d.storage,
      save: (id, mutate) => this.d.store.update<Instance>('instance', id, mutate),
    });
  }

  /** `hull volume …` and `hull vm disk …` (volume-ops.ts). */
  readonly volumes: VolumeOps;

  /** Internal signals: `exit:<id>` and `removed:<id>`, for waiters. */
  get events(): EventEmitter {
    return this.instances.events;
  }

  get root(): string {
    return this.d.root;
  }

  get host(): HostInfo {
    return this.d.host;
  }

  /** hull daemon --storage-opt size=, if given. */
  get defaultStorageBytes(): number | undefined {
    return this.d.defaultStorageBytes;
  }

  get networks(): NetworkManager {
    return this.d.net;
  }

  get drivers(): DriverRegistry {
    return this.d.drivers;
  }

  vmImages(): VmImages {
    if (!this.d.vmImages) throw new HullError('unavailable', this.d.vmUnavailable ?? 'virtual machines are not available on this daemon');
    return this.d.vmImages;
  }

  // ---- lookup ----

  async list(all = false): Promise<Instance[]> {
    const xs = await this.d.store.list<Instance>('instance');
    return xs.filter((i) => i.state.status !== 'creating' && (all || i.state.status === 'running' || i.state.status === 'paused'));
  }

  /** Find by name, full id or unique id prefix. */
  async get(ref: string): Promise<Instance> {
    const byName = await this.d.store.getByName<Instance>('instance', ref);
    if (byName) return byName;
    const byId = await this.d.store.get<Instance>('instance', ref);
    if (byId) return byId;
    if (/^[0-9a-f]{3,64}$/.test(ref)) {
      const xs = (await this.d.store.list<Instance>('instance')).filter((i) => i.id.startsWith(ref));
      if (xs.length === 1) return xs[0];
      if (xs.length > 1) throw invalid(`"${ref}" matches ${xs.length} instances: use more of the id`);
    }
    throw notFound(`container "${ref}"`);
  }

  // ---- create ----

  async create(input: CreateOptions): Promise<Instance> {
    return this.createContainer(parse(CreateOptionsSchema, input, 'create request'));
  }

  /** A container from parsed options; the orchestrator's replicas add an owner, a node and a restart back-off. */
  async createContainer(o: ParsedCreateOptions, placed: Placement = {}): Promise<Instance> {
    if (o.memoryBytes !== undefined && o.memoryBytes < MIN_MEMORY) throw new HullError('resource', `memory limit ${o.memoryBytes} bytes is too small: the minimum is 6MiB`);
    const ncpu = availableParallelism();
    if (o.cpus !== undefined && o.cpus > ncpu) throw invalid(`range of CPUs is from 0.01 to ${ncpu.toFixed(2)}, as there are only ${ncpu} CPUs available`);
    const isolated = o.isolation === 'vm';
    if (isolated) {
      checkIsolated(o);
      this.d.drivers.kind('container-vm');
    }
    const runtime = isolated ? 'qemu' : (o.runtime ?? this.d.host.defaultRuntime);
    if (!isolated && !this.d.host.runtimes[runtime]) throw new HullError('unavailable', `OCI runtime "${runtime}" is not installed (installed: ${Object.keys(this.d.host.runtimes).join(', ') || 'none'})`);
    const name = await this.newName(o.name);
    const image = await this.d.images.resolve(o.image);
    const inst = withPlacement(containerRecord(o, image, newId(), name, runtime, this.d.logDefaults), placed);
    if (inst.config.entrypoint.length + inst.config.cmd.length === 0) throw invalid('no command given and the image has none');
    if (o.autoRemove && o.restartPolicy !== 'no') throw invalid('--rm and --restart cannot be used together');
    const ports = withExposed(o.ports, o.publishAll ? image.config.ExposedPorts : undefined);
    if (!isolated && !inst.config.resources.storageBytes && this.d.defaultStorageBytes) inst.config.resources.storageBytes = this.d.defaultStorageBytes;
    if (inst.config.userns && !isolated && this.d.idRanges) inst.config.idMap = await this.d.idRanges.allocate(inst.id);
    const volumes = new Reverter(); // volumes made for this container go if it is not made
    try {
      inst.config.mounts = await this.volumes.plan(o, image, isolated, volumes);
      const done = await this.instances.admit(inst, { networks: o.networks, aliases: o.networkAliases, ip: o.ip, ports });
      await this.seedVolumes(done);
      volumes.success();
      return done;
    } catch (e) {
      await this.d.idRanges?.release(inst.id, inst.config.idMap);
      throw e;
    } finally {
      await volumes.revert();
    }
  }

  /** docker's copy-up into the container's empty volumes, from its root filesystem; the container goes if it fails. */
  private async seedVolumes(inst: Instance): Promise<void> {
    if (!inst.config.mounts?.some((m) => m.type === 'volume')) return;
    try {
      const d = this.d.drivers.for(inst);
      const ctx = await this.instances.context(inst);
      const view = d.imageFiles ? await d.imageFiles(inst, ctx) : await d.rootfs(inst, ctx);
      try {
        await this.d.storage.seed(inst, view.path, view.ids);
      } finally {
        await view.release();
      }
    } catch (e) {
      await this.instances.remove(inst.id, true).catch(() => undefined);
      throw e instanceof HullError ? e.wrap(`cannot fill the volumes of ${inst.name} from its image`) : e;
    }
  }

  /** A name for a new instance: the one asked for (valid and free) or a generated one. */
  private async newName(asked: string | undefined): Promise<string> {
    const name = asked || (await this.freeName());
    checkName(name);
    if (await this.d.store.getByName('instance', name)) throw new HullError('conflict', `the name "${name}" is already in use`);
    return name;
  }

  /** A generated name not in use: a few random tries, then a longer suffix. */
  private async freeName(): Promise<string> {
    for (let i = 0; i < 8; i++) {
      const n = randomName();
      if (!(await this.d.store.getByName('instance', n))) return n;
    }
    return `${randomName()}_${newId().slice(0, 6)}`;
  }

  // ---- virtual machines ----

  /** `hull vm create`: a record of type vm; the driver clones the image's disk. Names are shared with containers. */
  async createVm(input: VmCreateOptions, placed: Placement = {}): Promise<Instance> {
    const o = parse(VmCreateSchema, input, 'VM create request');
    this.d.drivers.kind('vm');
    if (o.networks?.includes('host')) throw invalid('a VM cannot use --network host: give it a bridge network, or none');
    const name = await this.newName(o.name);
    const image = await this.vmImages().get(o.image);
    const inst = withPlacement(vmRecord(o, image, newId(), name, this.d.logDefaults), placed);
    inst.config.disks = await this.volumes.diskAttachments(o.diskVolumes);
    // Addresses on its networks (default: the default network; `none`: no NIC), as for containers.
    return this.instances.admit(inst, { networks: o.networks, aliases: o.networkAliases, ip: o.ip, ports: [] });
  }

  private async getVm(ref: string): Promise<Instance> {
    const inst = await this.get(ref);
    if (inst.type !== 'vm') throw invalid(`${inst.name} is a container, not a VM`);
    return inst;
  }

  /** `inspect`: the record, plus what its driver adds (a VM's or a VM-isolated container's QEMU). */
  async inspect(ref: string): Promise<Instance & { vm?: object }> {
    const inst = await this.get(ref);
    if (!this.d.drivers.can(inst, 'inspect')) return inst;
    return { ...inst, vm: await this.d.drivers.capable(inst, 'inspect').inspect(inst) };
  }

  /** The record plus what QEMU says: accelerator, QMP status, the resolved machine. */
  async inspectVm(ref: string) {
    const inst = await this.getVm(ref);
    return { ...inst, vm: await this.d.drivers.capable(inst, 'inspect').inspect(inst) };
  }

  /** Until the guest has booted and configured itself and its agent answers (`vm start --wait`). */
  async waitVmReady(ref: string, timeoutMs: number): Promise<void> {
    const inst = await this.getVm(ref);
    if (inst.state.status !== 'running') throw wrongState(`VM ${inst.name} is not running`);
    await this.d.drivers
      .capable(inst, 'ready')
      .waitReady(inst, timeoutMs)
      .catch((e: unknown) => {
        throw e instanceof HullError ? e.wrap(`VM ${inst.name} is not ready (a guest without Hull's agent, such as an imported image, never is)`) : e;
      });
  }

  async snapshotCreate(ref: string, name: string) {
    const inst = await this.getVm(ref);
    return this.instances.withLock(inst.id, async () => this.d.drivers.capable(inst, 'snapshots').snapshotCreate(await this.instances.mustGet(inst.id), name));
  }

  async snapshotList(ref: string) {
    const inst = await this.getVm(ref);
    return this.d.drivers.capable(inst, 'snapshots').snapshotList(inst);
  }

  async snapshotRestore(ref: string, name: string, force = false): Promise<void> {
    const inst = await this.getVm(ref);
    await this.instances.withLock(inst.id, async () => this.d.drivers.capable(inst, 'snapshots').snapshotRestore(await this.instances.mustGet(inst.id), name, { force }));
  }

  async snapshotDelete(ref: string, name: string): Promise<void> {
    const inst = await this.getVm(ref);
    await this.instances.withLock(inst.id, async () => this.d.drivers.capable(inst, 'snapshots').snapshotDelete(await this.instances.mustGet(inst.id), name));
  }

  /** `hull rename`: a new name, free and valid; its networks' name servers answer to it at once. */
  async rename(ref: string, name: string): Promise<Instance> {
    const inst = await this.get(ref);
    return this.instances.withLock(inst.id, async () => {
      const cur = await this.instances.mustGet(inst.id);
      if (cur.name === name) throw invalid(`${noun(cur)} ${cur.name} already has that name`);
      checkName(name);
      if (await this.d.store.getByName('instance', name)) throw new HullError('conflict', `the name "${name}" is already in use`);
      const next: Instance = { ...cur, name };
      await this.d.store.batch([{ op: 'put', kind: 'instance', id: cur.id, name, doc: next }]);
      await this.d.net.renamed(next);
      this.instances.emit('rename', next, { oldName: cur.name });
      return next;
    });
  }

  /** exec sessions run outside the engine (api/routes/exec.ts): they report here. */
  execEvent(inst: Instance, action: 'create' | 'start' | 'die', execId: string, o: { cmd?: string[]; exitCode?: number } = {}): void {
    if (action === 'die') return this.instances.emit('exec_die', inst, { execID: execId, exitCode: String(o.exitCode ?? -1) });
    this.instances.emit(`exec_${action}: ${(o.cmd ?? []).join(' ')}`, inst, { execID: execId });
  }

  // ---- networks of an instance ----

  /** `hull network connect`: join a network, at once when running. */
  async connect(ref: string, network: string, o: { aliases?: string[]; ip?: string } = {}): Promise<Instance> {
    const inst = await this.get(ref);
    refuseLiveIsolated(inst);
    return this.instances.withLock(inst.id, async () => this.d.net.connect(await this.instances.mustGet(inst.id), network, o, (n) => this.saveNetworks(inst.id, n), this.nics(inst)));
  }

  /** `hull network disconnect`: leave a network, at once when running. */
  async disconnect(ref: string, network: string): Promise<Instance> {
    const inst = await this.get(ref);
    refuseLiveIsolated(inst);
    return this.instances.withLock(inst.id, async () => this.d.net.disconnect(await this.instances.mustGet(inst.id), network, (n) => this.saveNetworks(inst.id, n), this.nics(inst)));
  }

  /** A running VM's cards follow its taps (hot-plugged through QMP). */
  private nics(inst: Instance): NicHotplug | undefined {
    if (!this.d.drivers.can(inst, 'nics')) return undefined;
    const drv = this.d.drivers.capable(inst, 'nics');
    return { add: (tap) => drv.nicAdd(inst, tap), remove: (tap) => drv.nicRemove(inst, tap) };
  }

  private saveNetworks(id: string, networks: NetworkAttachment[]): Promise<Instance> {
    return this.d.store.update<Instance>('instance', id, (cur) => ({ ...cur, config: { ...cur.config, networks } }));
  }

  // ---- lifecycle ----

  async start(ref: string): Promise<Instance> {
    return this.instances.start((await this.get(ref)).id);
  }

  async stop(ref: string, timeoutSec = 10): Promise<Instance> {
    return this.instances.stop((await this.get(ref)).id, timeoutSec);
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    await this.instances.kill(await this.get(ref), signal);
  }

  async restart(ref: string, timeoutSec = 10): Promise<Instance> {
    return this.instances.restart((await this.get(ref)).id, timeoutSec);
  }

  /**
   * `docker update`: new limits (memory, CPUs, pids) and restart policy. A
   * running or paused instance gets the limits at once (its driver changes
   * its cgroup); every later start uses the new ones.
   */
  async update(ref: string, u: { resources?: Resources; restartPolicy?: RestartPolicySpec }): Promise<Instance> {
    const r = u.resources ?? {};
    if (r.memoryBytes !== undefined && r.memoryBytes < MIN_MEMORY) throw new HullError('resource', `memory limit ${r.memoryBytes} bytes is too small: the minimum is 6MiB`);
    return this.instances.update((await this.get(ref)).id, u);
  }

  async pause(ref: string): Promise<Instance> {
    return this.instances.pause((await this.get(ref)).id);
  }

  async unpause(ref: string): Promise<Instance> {
    return this.instances.unpause((await this.get(ref)).id);
  }

  /** `rm [-f] [-v]`: `volumes` also removes the container's anonymous volumes (never named ones). */
  async remove(ref: string, force = false, volumes = false): Promise<void> {
    await this.instances.remove((await this.get(ref)).id, force, volumes);
  }

  async wait(ref: string, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running', signal?: AbortSignal) {
    return this.instances.wait(await this.get(ref), condition, signal);
  }

  // ---- I/O ----

  async attach(ref: string): Promise<{ inst: Instance; stdio: StdioStream }> {
    return this.instances.attach((await this.get(ref)).id);
  }

  async resize(ref: string, rows: number, cols: number): Promise<void> {
    const inst = await this.get(ref);
    await this.d.drivers.for(inst).resize(inst, rows, cols);
  }

  async exec(ref: string, opts: ExecOptions): Promise<ExecSession> {
    const inst = await this.get(ref);
    Instances.mustRun(inst);
    Instances.refuseEmpty(opts.cmd);
    return this.d.drivers.for(inst).exec(inst, opts);
  }

  async stats(ref: string) {
    const inst = await this.get(ref);
    if (inst.state.status !== 'running' && inst.state.status !== 'paused') {
      return { memoryUsage: 0, memoryLimit: 0, cpuUsageNs: 0, pids: 0, pidsLimit: 0 };
    }
    return this.d.drivers.for(inst).stats(inst);
  }

  async top(ref: string) {
    const inst = await this.get(ref);
    if (inst.state.status !== 'running' && inst.state.status !== 'paused') throw wrongState(`${noun(inst)} ${inst.name} is not running`);
    return this.d.drivers.for(inst).top(inst);
  }

  /** `hull top NAME ps-options`: the host's `ps` with those options, its rows for the container's processes only (containers; a VM's are in its guest). */
  async topPs(ref: string, psArgs: string[]) {
    const inst = await this.get(ref);
    if (inst.state.status !== 'running' && inst.state.status !== 'paused') throw wrongState(`${noun(inst)} ${inst.name} is not running`);
    if (inst.type === 'vm' || inst.config.isolation === 'vm') throw invalid(`${noun(inst)} ${inst.name} runs in a VM: its processes are in the guest, where ps options are not taken (use top without them)`);
    const pids = (await this.d.drivers.for(inst).top(inst)).map((p) => p.pid);
    return psRows(psArgs, pids);
  }

  /** Read a path out of a container (hull cp CONTAINER:PATH ...) as a tar stream. */
  async copyFrom(ref: string, path: string, o: { followLink?: boolean } = {}): Promise<NodeJS.ReadableStream> {
    return copyOut(this.copyTarget(await this.get(ref)), path, o);
  }

  /** Write a tar stream into a container at `path` (docker cp's rules: into a directory, or as `path`). */
  async copyTo(ref: string, path: string, archive: NodeJS.ReadableStream): Promise<void> {
    return copyIn(this.copyTarget(await this.get(ref)), path, archive);
  }

  private copyTarget(inst: Instance): CopyTarget {
    const d = this.d.drivers.for(inst);
    return {
      what: `${noun(inst)} ${inst.name}`,
      // Where the files are not on the host (a VM-isolated container's): copied through the instance.
      copier: d.copier ? () => d.copier!(inst) : undefined,
      hold: (fn) => this.instances.withLock(inst.id, fn),
      view: async () => {
        const view = await d.rootfs(inst, await this.instances.context(inst));
        // Volumes and binds too, also while the container is stopped (docker mounts them for a copy).
        if (!inst.config.mounts?.length) return view;
        return { ...view, mounts: [...(view.mounts ?? []), ...(await this.d.storage.copyMounts(inst))] };
      },
    };
  }

  logPath(inst: Instance): string {
    return this.d.drivers.for(inst).logPath(inst);
  }

  // ---- daemon start-up and shutdown ----

  /** Re-adopt what a previous daemon left (orchestrator/instances/recovery.ts). */
  async recover(): Promise<void> {
    await new Recovery(this.instances, {
      store: this.d.store,
      net: this.d.net,
      log: this.d.log,
      idRanges: this.d.idRanges,
      storage: this.d.storage,
      // Volumes: half-made ones go, claims of what no longer runs are dropped, VMs' disks match their records.
      beforeNetworks: async () => {
        await this.d.volumes.recover((msg, o) => this.d.log.info(o, msg));
        await this.volumes.recoverDisks(await this.list(), (msg, o) => this.d.log.warn(o, msg));
      },
    }).run();
  }

  /** Record each exit its monitor reports. */
  async watchExits(): Promise<void> {
    this.stopWatch = await watchExits(
      this.d.exitDir,
      (id) => void this.instances.checkExit(id).catch((e) => this.d.log.warn({ err: String(e) }, 'exit handling failed')),
      (e) => this.d.log.error({ err: String(e) }, 'exit watcher stopped'),
    );
  }

  async close(): Promise<void> {
    this.stopWatch?.();
    await this.instances.close();
  }
}

/** A VM-isolated container's cards are set at boot: its guest has no agent to configure one plugged in later. */
function refuseLiveIsolated(inst: Instance): void {
  const live = inst.state.status === 'running' || inst.state.status === 'paused';
  if (live && inst.config.isolation === 'vm') throw wrongState(`container ${inst.name} runs in a VM of its own: connect or disconnect it while it is stopped (it takes effect at its next start)`);
}

/** What a VM-isolated container cannot have: a user namespace, another runtime, the host's network. */
function checkIsolated(o: ParsedCreateOptions): void {
  if (o.userns) throw invalid('--isolation vm and --userns cannot be used together: the VM is the boundary');
  // In the VM the program is not PID 1: the guest's init runs it, the kernel delivers its signals and the guest reaps orphans.
  if (o.init) throw invalid('--isolation vm and --init cannot be used together: in its VM the program is not PID 1 (the guest\'s init starts it and reaps orphans), so there is nothing for --init to do');
  if (o.runtime) throw invalid('--isolation vm and --runtime cannot be used together: the runtime is QEMU');
  if (o.networks?.includes('host')) throw invalid('--isolation vm and --network host cannot be used together: the VM has its own network cards');
  const container = [o.privileged && '--privileged', o.capAdd.length && '--cap-add', o.capDrop.length && '--cap-drop', o.devices.length && '--device', o.seccompProfile && '--security-opt seccomp', o.storageBytes && '--storage-opt'].filter(Boolean);
  if (container.length) throw invalid(`--isolation vm and ${container.join(', ')} cannot be used together: they shape a container, and the VM is the boundary`);
}

/** The orchestrator's additions to a new record: its owner, its node, its restart back-off. */
function withPlacement(inst: Instance, p: Placement): Instance {
  return {
    ...inst,
    ...(p.owner ? { owner: p.owner } : {}),
    ...(p.node ? { node: p.node } : {}),
    config: { ...inst.config, ...(p.restart ? { restartPolicy: p.restart } : {}), ...(p.healthcheck ? { healthcheck: p.healthcheck } : {}) },
  };
}
