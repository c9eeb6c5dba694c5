import { EventEmitter } from 'node:events';
import { availableParallelism, constants as osConstants } from 'node:os';
import { mkdir, readdir, watch } from 'node:fs/promises';
import { copyIn, copyOut, type CopyTarget } from './copy.js';
import { HullError, invalid, notFound, wrongState } from '../core/errors.js';
import { checkName, newId, randomName } from '../core/ids.js';
import type { Instance, InstanceState } from '../core/instance.js';
import { Reverter } from '../core/reverter.js';
import type { ImageService } from '../image/image-service.js';
import type { NetworkAttachment } from '../core/network.js';
import type { NetRequest, NetworkManager, NicHotplug } from '../net/manager.js';
import type { CreateContext, Driver, ExecOptions, ExecSession, ExitStatus, StdioStream } from '../runtime/driver.js';
import type { HostInfo } from '../runtime/host.js';
import type { Store } from '../store/store.js';
import { CreateOptionsSchema, type CreateOptions, type ParsedCreateOptions } from './create-options.js';
import type { QemuDriver } from '../runtime/qemu/driver.js';
import type { VmImages } from '../runtime/qemu/images.js';
import type { IsolatedDriver } from '../runtime/qemu/isolated-driver.js';
import { VmCreateSchema, type VmCreateOptions } from './vm-options.js';
import { containerRecord, parse, vmRecord, withExposed } from './records.js';
import { KeyedLock } from '../core/keyed-lock.js';
import { IdRanges } from './id-ranges.js';
import { psRows } from './ps-rows.js';
import { EventLog } from '../core/events.js';
import type { Logger } from './logger.js';
import type { LogConfig } from '../core/log-config.js';
import { VolumeOps } from './volume-ops.js';
import type { InstanceVolumes } from '../storage/volumes/instance-volumes.js';
import type { Volumes } from '../storage/volumes/volumes.js';

const MIN_MEMORY = 6 * 1024 * 1024; // docker's floor: below this nothing starts reliably

export interface EngineDeps {
  root: string;
  store: Store;
  images: ImageService;
  drivers: { container: Driver & { exitDir: string }; vm?: QemuDriver; isolated?: IsolatedDriver };
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

/**
 * What the engine reports of an instance (docker's container actions; a VM's
 * events have the type `vm`). exec_create and exec_start carry the command
 * after a colon, as docker's do.
 */
export type InstanceAction =
  | 'create'
  | 'start'
  | 'die'
  | 'stop'
  | 'kill'
  | 'destroy'
  | 'pause'
  | 'unpause'
  | 'restart'
  | 'oom'
  | 'attach'
  | 'rename'
  | `exec_create: ${string}`
  | `exec_start: ${string}`
  | 'exec_die';

/**
 * Engine: the one place that changes instances. The API, CLI (through the
 * API) and dashboard go through it. It owns the records in the store and the
 * lifecycle rules; drivers do the machine-side work.
 */
export class Engine {
  /** Internal signals: `exit:<id>` and `removed:<id>`, for waiters. */
  readonly events = new EventEmitter();
  /** The events users see (`hull events`, GET /v1/events). */
  readonly eventLog: EventLog;
  private lock = new KeyedLock();
  private watcher?: AbortController;
  private restartTimers = new Map<string, NodeJS.Timeout>();

  constructor(private d: EngineDeps) {
    this.events.setMaxListeners(0);
    this.eventLog = d.events ?? new EventLog();
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

  /** `hull volume …` and `hull vm disk …` (volume-ops.ts). */
  readonly volumes = new VolumeOps({
    get: (ref) => this.get(ref),
    locked: (id, fn) => this.lock.run(id, fn),
    mustGet: (id) => this.mustGet(id),
    vm: () => this.vmDriver(),
    volumes: () => this.d.volumes,
    storage: () => this.d.storage,
    save: (id, mutate) => this.d.store.update<Instance>('instance', id, mutate),
  });

  private driver(inst: Instance): Driver {
    if (inst.type === 'vm') return this.vmDriver();
    return inst.config.isolation === 'vm' ? this.isolatedDriver() : this.d.drivers.container;
  }

  /** VM-isolated containers need the guest too. */
  private isolatedDriver(): IsolatedDriver {
    if (!this.d.drivers.isolated) throw new HullError('unavailable', this.d.vmUnavailable ?? 'VM isolation is not available on this daemon');
    return this.d.drivers.isolated;
  }

  /** The QEMU driver, or why VMs are unavailable (containers are unaffected). */
  vmDriver(): QemuDriver {
    if (!this.d.drivers.vm) throw new HullError('unavailable', this.d.vmUnavailable ?? 'virtual machines are not available on this daemon');
    return this.d.drivers.vm;
  }

  vmImages(): VmImages {
    if (!this.d.vmImages) throw new HullError('unavailable', this.d.vmUnavailable ?? 'virtual machines are not available on this daemon');
    return this.d.vmImages;
  }

  // Containers get a namespace with veths, VMs tap devices on the same bridges.
  private netUp(inst: Instance) {
    return this.d.net.up(inst);
  }

  private netDown(inst: Instance): Promise<void> {
    return this.d.net.down(inst);
  }

  /** An event of the instance, with docker's attributes: its labels, image and name, and what the action adds. */
  private emit(action: InstanceAction, inst: Instance, extra: Record<string, string> = {}) {
    const isolation: Record<string, string> = inst.config.isolation === 'vm' ? { isolation: 'vm' } : {};
    this.eventLog.publish(inst.type === 'vm' ? 'vm' : 'container', action, inst.id, { ...inst.config.labels, image: inst.config.image, name: inst.name, ...isolation, ...extra });
  }

  /** exec sessions run outside the engine (api/routes/exec.ts): they report here. */
  execEvent(inst: Instance, action: 'create' | 'start' | 'die', execId: string, o: { cmd?: string[]; exitCode?: number } = {}): void {
    if (action === 'die') return this.emit('exec_die', inst, { execID: execId, exitCode: String(o.exitCode ?? -1) });
    this.emit(`exec_${action}: ${(o.cmd ?? []).join(' ')}`, inst, { execID: execId });
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

  private async save(id: string, mutate: (s: InstanceState) => Partial<InstanceState>): Promise<Instance> {
    return this.d.store.update<Instance>('instance', id, (cur) => ({ ...cur, state: { ...cur.state, ...mutate(cur.state) } }));
  }

  // ---- create ----

  async create(input: CreateOptions): Promise<Instance> {
    const o = parse(CreateOptionsSchema, input, 'create request');
    if (o.memoryBytes !== undefined && o.memoryBytes < MIN_MEMORY) throw new HullError('resource', `memory limit ${o.memoryBytes} bytes is too small: the minimum is 6MiB`);
    const ncpu = availableParallelism();
    if (o.cpus !== undefined && o.cpus > ncpu) throw invalid(`range of CPUs is from 0.01 to ${ncpu.toFixed(2)}, as there are only ${ncpu} CPUs available`);
    const isolated = o.isolation === 'vm';
    if (isolated) checkIsolated(o, this.isolatedDriver());
    const runtime = isolated ? 'qemu' : (o.runtime ?? this.d.host.defaultRuntime);
    if (!isolated && !this.d.host.runtimes[runtime]) throw new HullError('unavailable', `OCI runtime "${runtime}" is not installed (installed: ${Object.keys(this.d.host.runtimes).join(', ') || 'none'})`);
    const name = await this.newName(o.name);
    const image = await this.d.images.resolve(o.image);
    const inst = containerRecord(o, image, newId(), name, runtime, this.d.logDefaults);
    if (inst.config.entrypoint.length + inst.config.cmd.length === 0) throw invalid('no command given and the image has none');
    if (o.autoRemove && o.restartPolicy !== 'no') throw invalid('--rm and --restart cannot be used together');
    const ports = withExposed(o.ports, o.publishAll ? image.config.ExposedPorts : undefined);
    if (!isolated && !inst.config.resources.storageBytes && this.d.defaultStorageBytes) inst.config.resources.storageBytes = this.d.defaultStorageBytes;
    if (inst.config.userns && !isolated && this.d.idRanges) inst.config.idMap = await this.d.idRanges.allocate(inst.id);
    const volumes = new Reverter(); // volumes made for this container go if it is not made
    try {
      inst.config.mounts = await this.volumes.plan(o, image, isolated, volumes);
      const done = await this.admit(inst, { networks: o.networks, aliases: o.networkAliases, ip: o.ip, ports }, this.driver(inst), async () => this.context(inst));
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
    // A VM-isolated container's volumes are block volumes (no copy-up: its files are on a VM disk).
    if (inst.config.isolation === 'vm' || !inst.config.mounts?.some((m) => m.type === 'volume')) return;
    try {
      const view = await this.driver(inst).rootfs(inst, await this.context(inst));
      try {
        await this.d.storage.seed(inst, view.path, view.ids);
      } finally {
        await view.release();
      }
    } catch (e) {
      await this.lock.run(inst.id, () => this.removeLocked(inst.id, true)).catch(() => undefined);
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

  /**
   * Make a new instance real, all or nothing: addresses and host ports first (a
   * daemon killed before the record lands frees them at recovery), then the
   * record as `creating` (so a daemon killed mid-way finds and removes the
   * leftovers), then the driver's files, then `created`.
   */
  private async admit(inst: Instance, net: NetRequest, drv: Driver, ctx: () => Promise<CreateContext>): Promise<Instance> {
    const { id, name } = inst;
    const r = new Reverter();
    try {
      Object.assign(inst.config, await this.d.net.allocate({ id, name }, net, r));
      await this.d.store.create('instance', id, name, inst);
      r.add(() => this.d.store.delete('instance', id));
      r.add(() => drv.remove(inst));
      await drv.create(inst, await ctx());
      const done = await this.save(id, () => ({ status: 'created' }));
      r.success();
      this.emit('create', done);
      return done;
    } finally {
      await r.revert();
    }
  }

  // ---- virtual machines ----

  /** `hull vm create`: a record of type vm; the driver clones the image's disk. Names are shared with containers. */
  async createVm(input: VmCreateOptions): Promise<Instance> {
    const o = parse(VmCreateSchema, input, 'VM create request');
    const drv = this.vmDriver();
    if (o.networks?.includes('host')) throw invalid('a VM cannot use --network host: give it a bridge network, or none');
    const name = await this.newName(o.name);
    const image = await this.vmImages().get(o.image);
    const inst = vmRecord(o, image, newId(), name, this.d.logDefaults);
    inst.config.disks = await this.volumes.diskAttachments(o.diskVolumes);
    // Addresses on its networks (default: the default network; `none`: no NIC), as for containers.
    return this.admit(inst, { networks: o.networks, aliases: o.networkAliases, ip: o.ip, ports: [] }, drv, async () => ({ layerDirs: [] }));
  }

  private async getVm(ref: string): Promise<Instance> {
    const inst = await this.get(ref);
    if (inst.type !== 'vm') throw invalid(`${inst.name} is a container, not a VM`);
    return inst;
  }

  /** `inspect`: the record, plus for a VM or a VM-isolated container what its QEMU says. */
  async inspect(ref: string): Promise<Instance & { vm?: object }> {
    const inst = await this.get(ref);
    if (inst.type === 'vm') return this.inspectVm(inst.id);
    if (inst.config.isolation === 'vm') return { ...inst, vm: await this.isolatedDriver().inspect(inst) };
    return inst;
  }

  /** The record plus what QEMU says: accelerator, QMP status, the resolved machine. */
  async inspectVm(ref: string) {
    const inst = await this.getVm(ref);
    return { ...inst, vm: await this.vmDriver().inspect(inst) };
  }

  /** Until the guest has booted and configured itself and its agent answers (`vm start --wait`). */
  async waitVmReady(ref: string, timeoutMs: number): Promise<void> {
    const inst = await this.getVm(ref);
    if (inst.state.status !== 'running') throw wrongState(`VM ${inst.name} is not running`);
    await this.vmDriver()
      .waitReady(inst, timeoutMs)
      .catch((e: unknown) => {
        throw e instanceof HullError ? e.wrap(`VM ${inst.name} is not ready (a guest without Hull's agent, such as an imported image, never is)`) : e;
      });
  }

  async snapshotCreate(ref: string, name: string) {
    const inst = await this.getVm(ref);
    return this.lock.run(inst.id, async () => this.vmDriver().snapshotCreate(await this.mustGet(inst.id), name));
  }

  async snapshotList(ref: string) {
    return this.vmDriver().snapshotList(await this.getVm(ref));
  }

  async snapshotRestore(ref: string, name: string, force = false): Promise<void> {
    const inst = await this.getVm(ref);
    await this.lock.run(inst.id, async () => this.vmDriver().snapshotRestore(await this.mustGet(inst.id), name, { force }));
  }

  async snapshotDelete(ref: string, name: string): Promise<void> {
    const inst = await this.getVm(ref);
    await this.lock.run(inst.id, async () => this.vmDriver().snapshotDelete(await this.mustGet(inst.id), name));
  }

  /** `hull rename`: a new name, free and valid; its networks' name servers answer to it at once. */
  async rename(ref: string, name: string): Promise<Instance> {
    const inst = await this.get(ref);
    return this.lock.run(inst.id, async () => {
      const cur = await this.mustGet(inst.id);
      if (cur.name === name) throw invalid(`${noun(cur)} ${cur.name} already has that name`);
      checkName(name);
      if (await this.d.store.getByName('instance', name)) throw new HullError('conflict', `the name "${name}" is already in use`);
      const next: Instance = { ...cur, name };
      await this.d.store.batch([{ op: 'put', kind: 'instance', id: cur.id, name, doc: next }]);
      await this.d.net.renamed(next);
      this.emit('rename', next, { oldName: cur.name });
      return next;
    });
  }

  // ---- networks of an instance ----

  /** `hull network connect`: join a network, at once when running. */
  async connect(ref: string, network: string, o: { aliases?: string[]; ip?: string } = {}): Promise<Instance> {
    const inst = await this.get(ref);
    refuseLiveIsolated(inst);
    return this.lock.run(inst.id, async () => this.d.net.connect(await this.mustGet(inst.id), network, o, (n) => this.saveNetworks(inst.id, n), this.nics(inst)));
  }

  /** `hull network disconnect`: leave a network, at once when running. */
  async disconnect(ref: string, network: string): Promise<Instance> {
    const inst = await this.get(ref);
    refuseLiveIsolated(inst);
    return this.lock.run(inst.id, async () => this.d.net.disconnect(await this.mustGet(inst.id), network, (n) => this.saveNetworks(inst.id, n), this.nics(inst)));
  }

  /** A running VM's cards follow its taps (hot-plugged through QMP). */
  private nics(inst: Instance): NicHotplug | undefined {
    if (inst.type !== 'vm') return undefined;
    return { add: (tap) => this.vmDriver().nicAdd(inst, tap), remove: (tap) => this.vmDriver().nicRemove(inst, tap) };
  }

  private saveNetworks(id: string, networks: NetworkAttachment[]): Promise<Instance> {
    return this.d.store.update<Instance>('instance', id, (cur) => ({ ...cur, config: { ...cur.config, networks } }));
  }

  /** A generated name not in use: a few random tries, then a longer suffix. */
  private async freeName(): Promise<string> {
    for (let i = 0; i < 8; i++) {
      const n = randomName();
      if (!(await this.d.store.getByName('instance', n))) return n;
    }
    return `${randomName()}_${newId().slice(0, 6)}`;
  }

  private async context(inst: Instance): Promise<CreateContext> {
    if (inst.type === 'vm') return { layerDirs: [] }; // a VM boots its own disk
    const image = await this.d.images.resolve(inst.config.imageId);
    return { layerDirs: await this.d.images.layerDirs(image) };
  }

  // ---- lifecycle ----

  async start(ref: string): Promise<Instance> {
    const inst = await this.get(ref);
    return this.lock.run(inst.id, () => this.startLocked(inst.id));
  }

  private async startLocked(id: string, isRestart = false): Promise<Instance> {
    const inst = await this.mustGet(id);
    if (inst.state.status === 'running') return inst;
    if (inst.state.status === 'paused') throw wrongState(`${noun(inst)} ${inst.name} is paused: unpause it instead`);
    if (inst.state.status === 'removing') throw wrongState(`${noun(inst)} ${inst.name} is being removed`);
    try {
      const ctx = await this.context(inst);
      const network = await this.netUp(inst);
      const { pid, monitorPid } = await this.driver(inst).start(inst, { ...ctx, network, storage: await this.d.storage.up(inst) });
      const next = await this.save(id, (s) => ({
        status: 'running',
        pid,
        conmonPid: monitorPid,
        exitCode: 0,
        oomKilled: false,
        error: '',
        startedAt: new Date().toISOString(),
        finishedAt: '',
        stoppedByUser: false,
        restartCount: isRestart ? s.restartCount + 1 : s.restartCount,
      }));
      this.emit('start', next);
      // The exit may have happened before we recorded `running` (a fast command): check now.
      void this.checkExit(id);
      return next;
    } catch (e) {
      const err = e instanceof HullError ? e : new HullError('internal', String(e));
      await this.netDown(inst).catch(() => undefined);
      await this.d.storage.down(inst).catch(() => undefined);
      const exitCode = err.code === 'command_not_found' ? 127 : err.code === 'command_not_executable' ? 126 : 128;
      const failed = await this.save(id, () => ({ status: inst.state.status === 'created' ? 'created' : 'exited', error: err.message, exitCode }));
      // A waiter (docker run's wait, `hull wait` on a created container) learns the failure's code.
      this.events.emit(`exit:${id}`, failed.state);
      if (failed.config.autoRemove) await this.removeLocked(id, true).catch(() => undefined);
      throw err.wrap(`cannot start ${noun(inst)} ${inst.name}`);
    }
  }

  private async mustGet(id: string): Promise<Instance> {
    const inst = await this.d.store.get<Instance>('instance', id);
    if (!inst) throw notFound(`container ${id}`);
    return inst;
  }

  async stop(ref: string, timeoutSec = 10): Promise<Instance> {
    const inst = await this.get(ref);
    this.cancelRestart(inst.id);
    return this.lock.run(inst.id, async () => {
      const cur = await this.mustGet(inst.id);
      // Marked first, also when it is between restarts: a restart already queued on the lock must not revive it.
      const marked = await this.save(inst.id, () => ({ stoppedByUser: true }));
      if (cur.state.status !== 'running' && cur.state.status !== 'paused') return marked;
      if (cur.state.status === 'paused') await this.driver(cur).resume(cur).catch(() => undefined);
      await this.driver(cur).stop(cur, timeoutSec);
      const done = await this.reapLocked(inst.id);
      this.emit('stop', done);
      return done;
    });
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const inst = await this.get(ref);
    if (inst.state.status !== 'running' && inst.state.status !== 'paused') throw wrongState(`${noun(inst)} ${inst.name} is not running`);
    if (signal === 'SIGKILL' || signal === '9') await this.save(inst.id, () => ({ stoppedByUser: true }));
    await this.driver(inst).kill(inst, signal);
    this.emit('kill', inst, { signal: String(signalNumber(signal)) });
  }

  async restart(ref: string, timeoutSec = 10): Promise<Instance> {
    const inst = await this.stop(ref, timeoutSec);
    const started = await this.lock.run(inst.id, () => this.startLocked(inst.id));
    this.emit('restart', started);
    return started;
  }

  async pause(ref: string): Promise<Instance> {
    return this.transition(ref, 'running', 'paused', 'pause', (d, i) => d.pause(i));
  }

  async unpause(ref: string): Promise<Instance> {
    return this.transition(ref, 'paused', 'running', 'unpause', (d, i) => d.resume(i));
  }

  /** One status change done by the driver under the instance's lock: pause and unpause. */
  private async transition(
    ref: string,
    from: 'running' | 'paused',
    to: 'running' | 'paused',
    event: 'pause' | 'unpause',
    act: (drv: Driver, inst: Instance) => Promise<void>,
  ): Promise<Instance> {
    const inst = await this.get(ref);
    return this.lock.run(inst.id, async () => {
      const cur = await this.mustGet(inst.id);
      if (cur.state.status !== from) throw wrongState(`${noun(cur)} ${cur.name} is not ${from}`);
      await act(this.driver(cur), cur);
      const next = await this.save(cur.id, () => ({ status: to }));
      this.emit(event, next);
      return next;
    });
  }

  /** `rm [-f] [-v]`: `volumes` also removes the container's anonymous volumes (never named ones). */
  async remove(ref: string, force = false, volumes = false): Promise<void> {
    const inst = await this.get(ref);
    this.cancelRestart(inst.id);
    await this.lock.run(inst.id, () => this.removeLocked(inst.id, force, volumes));
  }

  private async removeLocked(id: string, force: boolean, volumes = false): Promise<void> {
    const inst = await this.d.store.get<Instance>('instance', id);
    if (!inst) return;
    const live = inst.state.status === 'running' || inst.state.status === 'paused';
    if (live && !force) throw new HullError('conflict', `${noun(inst)} ${inst.name} is ${inst.state.status}: stop it first or use --force`);
    await this.save(id, () => ({ status: 'removing', stoppedByUser: true }));
    const drv = this.driver(inst);
    if (live) {
      if (inst.state.status === 'paused') await drv.resume(inst).catch(() => undefined);
      await drv.stop(inst, 0, 'SIGKILL').catch(() => undefined);
    }
    await drv.remove(inst);
    await this.netDown(inst);
    await this.d.storage.down(inst);
    await this.d.net.release(inst);
    await this.d.store.delete('instance', id);
    await this.d.idRanges?.release(id, inst.config.idMap);
    await this.d.storage.forget(inst, volumes || inst.config.autoRemove);
    this.events.emit(`exit:${id}`, { ...inst.state, status: 'exited' });
    this.events.emit(`removed:${id}`, inst.state);
    this.emit('destroy', inst);
  }

  // ---- exits ----

  /** Called when conmon reports an exit (or we suspect one). Idempotent. */
  async checkExit(id: string): Promise<void> {
    const inst = await this.d.store.get<Instance>('instance', id);
    if (!inst || (inst.state.status !== 'running' && inst.state.status !== 'paused')) return;
    const ex = await this.driver(inst).exitStatus(inst);
    if (!ex) return;
    await this.lock.run(id, async () => {
      const cur = await this.d.store.get<Instance>('instance', id);
      if (!cur || (cur.state.status !== 'running' && cur.state.status !== 'paused')) return;
      const done = await this.reapLocked(id, ex);
      this.afterExit(done);
    });
  }

  /** Record an exit (read now unless the caller has it) and free the runtime's resources. Caller holds the lock. */
  private async reapLocked(id: string, known?: ExitStatus): Promise<Instance> {
    const inst = await this.mustGet(id);
    const drv = this.driver(inst);
    const ex = known ?? (await drv.exitStatus(inst)) ?? { exitCode: 255, oomKilled: false, finishedAt: new Date().toISOString() };
    const done = await this.save(id, () => ({ status: 'exited', pid: 0, conmonPid: 0, exitCode: ex.exitCode, oomKilled: ex.oomKilled, finishedAt: ex.finishedAt }));
    if (ex.oomKilled) this.emit('oom', done);
    this.emit('die', done, { exitCode: String(ex.exitCode) });
    // Waiters learn the exit code now; the release below still holds the lock, so
    // nothing else touches this instance until its resources are freed.
    this.events.emit(`exit:${id}`, done.state);
    // Unplugging the network (removing its namespace) overlaps the runtime's release.
    await Promise.all([drv.release(inst), this.netDown(inst)]);
    // After the runtime let go: a VM's QEMU is gone before another may take its disks.
    await this.d.storage.down(inst);
    return done;
  }

  private afterExit(inst: Instance): void {
    const c = inst.config;
    if (c.autoRemove) {
      void this.lock.run(inst.id, () => this.removeLocked(inst.id, true)).catch((e) => this.d.log.warn({ err: String(e) }, 'auto-remove failed'));
      return;
    }
    if (inst.state.stoppedByUser) return;
    const p = c.restartPolicy;
    const want =
      p.name === 'always' || p.name === 'unless-stopped' || (p.name === 'on-failure' && inst.state.exitCode !== 0 && (p.maxRetries === undefined || p.maxRetries === 0 || inst.state.restartCount < p.maxRetries));
    if (!want) return;
    // Back off like docker: 100 ms doubling, capped at 10 s... reset after a good run.
    const delay = Math.min(10_000, 100 * 2 ** Math.min(inst.state.restartCount, 7));
    const t = setTimeout(() => {
      this.restartTimers.delete(inst.id);
      void this.lock
        .run(inst.id, async () => {
          const cur = await this.d.store.get<Instance>('instance', inst.id);
          if (!cur || cur.state.status !== 'exited' || cur.state.stoppedByUser) return;
          await this.startLocked(inst.id, true);
        })
        .catch((e) => this.d.log.warn({ id: inst.id, err: String(e) }, 'restart failed'));
    }, delay);
    this.restartTimers.set(inst.id, t);
  }

  private cancelRestart(id: string) {
    const t = this.restartTimers.get(id);
    if (t) clearTimeout(t);
    this.restartTimers.delete(id);
  }

  /**
   * Wait as docker's conditions say: `not-running` (now, if it is not), `next-exit`,
   * or `removed` (the exit code once the container is gone, for `run --rm`).
   * A container that was created and never started has not had its run yet:
   * `not-running` waits for it to start and stop (as docker does since 28.1),
   * or for a start that fails (with that failure's code).
   */
  async wait(
    ref: string,
    condition: 'not-running' | 'next-exit' | 'removed' = 'not-running',
    signal?: AbortSignal,
  ): Promise<{ exitCode: number; error: string; oomKilled: boolean }> {
    const inst = await this.get(ref);
    const s = inst.state;
    const live = s.status === 'running' || s.status === 'paused';
    const unborn = s.status === 'created' && !s.startedAt && !s.error;
    if (!live && !unborn && condition === 'not-running') return { exitCode: s.exitCode, error: s.error, oomKilled: s.oomKilled };
    const event = condition === 'removed' ? `removed:${inst.id}` : `exit:${inst.id}`;
    return new Promise((resolve) => {
      const onExit = (s: InstanceState) => {
        signal?.removeEventListener('abort', onAbort);
        resolve({ exitCode: s.exitCode, error: s.error, oomKilled: s.oomKilled });
      };
      // A waiter that went away (its client disconnected) stops listening, as a created container
      // may never run; nobody reads the answer, which is the state as it was.
      const onAbort = () => {
        this.events.off(event, onExit);
        resolve({ exitCode: s.exitCode, error: s.error, oomKilled: s.oomKilled });
      };
      this.events.once(event, onExit);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      // The exit may have landed between our read and the listener.
      void this.checkExit(inst.id);
    });
  }

  // ---- I/O ----

  async attach(ref: string): Promise<{ inst: Instance; stdio: StdioStream }> {
    const inst = await this.get(ref);
    return this.lock.run(inst.id, async () => {
      const cur = await this.mustGet(inst.id);
      const drv = this.driver(cur);
      if (cur.state.status === 'created' || cur.state.status === 'exited') {
        // Attach before start (docker run's and start -a's order): set the process up under conmon, not yet running.
        const st = await drv.status(cur);
        if (st.status === 'absent') {
          const ctx = await this.context(cur);
          const network = await this.netUp(cur);
          await drv.init(cur, { ...ctx, network, storage: await this.d.storage.up(cur) }).catch(async (e) => {
            await this.netDown(cur).catch(() => undefined);
            await this.d.storage.down(cur).catch(() => undefined);
            throw e;
          });
        }
      } else if (cur.state.status !== 'running' && cur.state.status !== 'paused') {
        throw wrongState(`${noun(cur)} ${cur.name} is not running`);
      }
      const stdio = await drv.attach(cur);
      this.emit('attach', cur);
      return { inst: cur, stdio };
    });
  }

  async resize(ref: string, rows: number, cols: number): Promise<void> {
    const inst = await this.get(ref);
    await this.driver(inst).resize(inst, rows, cols);
  }

  async exec(ref: string, opts: ExecOptions): Promise<ExecSession> {
    const inst = await this.get(ref);
    if (inst.state.status !== 'running') throw wrongState(`${noun(inst)} ${inst.name} is not running`);
    if (!opts.cmd.length) throw invalid('exec needs a command');
    return this.driver(inst).exec(inst, opts);
  }

  async stats(ref: string) {
    const inst = await this.get(ref);
    if (inst.state.status !== 'running' && inst.state.status !== 'paused') {
      return { memoryUsage: 0, memoryLimit: 0, cpuUsageNs: 0, pids: 0, pidsLimit: 0 };
    }
    return this.driver(inst).stats(inst);
  }

  async top(ref: string) {
    const inst = await this.get(ref);
    if (inst.state.status !== 'running' && inst.state.status !== 'paused') throw wrongState(`${noun(inst)} ${inst.name} is not running`);
    return this.driver(inst).top(inst);
  }

  /** `hull top NAME ps-options`: the host's `ps` with those options, its rows for the container's processes only (containers; a VM's are in its guest). */
  async topPs(ref: string, psArgs: string[]) {
    const inst = await this.get(ref);
    if (inst.state.status !== 'running' && inst.state.status !== 'paused') throw wrongState(`${noun(inst)} ${inst.name} is not running`);
    if (inst.type === 'vm' || inst.config.isolation === 'vm') throw invalid(`${noun(inst)} ${inst.name} runs in a VM: its processes are in the guest, where ps options are not taken (use top without them)`);
    const pids = (await this.driver(inst).top(inst)).map((p) => p.pid);
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
    return {
      what: `${noun(inst)} ${inst.name}`,
      hold: (fn) => this.lock.run(inst.id, fn),
      view: async () => {
        const view = await this.driver(inst).rootfs(inst, await this.context(inst));
        // Volumes and binds too, also while the container is stopped (docker mounts them for a copy).
        if (!inst.config.mounts?.length) return view;
        return { ...view, mounts: [...(view.mounts ?? []), ...(await this.d.storage.copyMounts(inst))] };
      },
    };
  }

  logPath(inst: Instance): string {
    return this.driver(inst).logPath(inst);
  }

  // ---- daemon start-up and shutdown ----

  /**
   * Re-adopt what a previous daemon left: instances still running under
   * their monitors are kept; exits that happened meanwhile are recorded (and
   * restart policies honoured); half-made instances are removed.
   */
  async recover(): Promise<void> {
    for (const inst of await this.d.store.list<Instance>('instance')) {
      try {
        // A build's RUN container belongs to a build that died with the last daemon: it goes.
        if (inst.config.labels[BUILD_LABEL] === 'true') await this.sweepBuildContainer(inst);
        else await this.recoverOne(inst);
      } catch (e) {
        this.d.log.warn({ id: inst.id, err: String(e) }, 'recovery failed');
      }
    }
    await this.recoverIdRanges();
    // Volumes: half-made ones go, claims of what no longer runs are dropped, VMs' disks match their records.
    await this.d.volumes.recover((msg, o) => this.d.log.info(o, msg));
    await this.volumes.recoverDisks(await this.list(), (msg, o) => this.d.log.warn(o, msg));
    // Networks last: what still runs keeps its network, orphans go, rules are rebuilt from the records.
    await this.d.net.recover(await this.d.store.list<Instance>('instance'));
  }

  /** Ranges of containers that are gone are freed; the one range records from before allocation share stays held. */
  private async recoverIdRanges(): Promise<void> {
    if (!this.d.idRanges) return;
    const all = await this.d.store.list<Instance>('instance');
    const legacy = all.find((i) => i.config.userns && !i.config.idMap && i.config.isolation !== 'vm');
    if (legacy) await this.d.idRanges.holdLegacy(legacy.id);
    await this.d.idRanges.sweep(new Set(all.map((i) => i.id)));
  }

  private async sweepBuildContainer(inst: Instance): Promise<void> {
    this.d.log.info({ id: inst.id }, "removing a build container left by the previous daemon's build");
    await this.save(inst.id, () => ({ status: 'removing' }));
    await this.recoverOne({ ...inst, state: { ...inst.state, status: 'removing' } });
  }

  private async recoverOne(inst: Instance): Promise<void> {
    const drv = this.driver(inst);
    const s = inst.state.status;
    if (s === 'creating' || s === 'removing') {
      this.d.log.info({ id: inst.id, name: inst.name, status: s }, 'removing a half-made or half-removed container');
      await drv.remove(inst);
      await this.netDown(inst);
      await this.d.storage.down(inst);
      await this.d.net.release(inst);
      await this.d.store.delete('instance', inst.id);
      await this.d.idRanges?.release(inst.id, inst.config.idMap);
      await this.d.storage.forget(inst, inst.state.status === 'creating' || inst.config.autoRemove);
      return;
    }
    if (s === 'created') return this.recoverCreated(inst);
    if (s !== 'running' && s !== 'paused') {
      if (s === 'exited' && !inst.state.stoppedByUser && inst.config.restartPolicy.name === 'always') this.afterExit(inst);
      return;
    }
    if (await drv.exitStatus(inst)) {
      await this.lock.run(inst.id, async () => this.afterExit(await this.reapLocked(inst.id)));
      return;
    }
    if (!(await drv.monitorAlive(inst))) {
      // conmon is gone and left no exit code: the container cannot be supervised.
      await drv.stop(inst, 0, 'SIGKILL').catch(() => undefined);
      await drv.release(inst).catch(() => undefined);
      await this.netDown(inst).catch(() => undefined);
      await this.d.storage.down(inst).catch(() => undefined);
      await this.save(inst.id, () => ({ status: 'exited', exitCode: 255, error: 'container monitor (conmon) died', finishedAt: new Date().toISOString() }));
      return;
    }
    this.d.log.info({ id: inst.id, name: inst.name, type: inst.type }, `re-adopted a running ${inst.type === 'vm' ? 'VM' : inst.config.isolation === 'vm' ? 'VM-isolated container' : 'container'}`);
  }

  /**
   * A record still `created` may have been started by a daemon killed before
   * it wrote `running`: believe the runtime, not the record.
   */
  private async recoverCreated(inst: Instance): Promise<void> {
    const drv = this.driver(inst);
    const st = await drv.status(inst);
    if (st.status === 'absent') return;
    if (st.status === 'created') {
      if (!(await drv.monitorAlive(inst))) await drv.release(inst);
      return;
    }
    // It ran: record that, then let the normal exit path take over if it already ended.
    await this.save(inst.id, () => ({ status: st.status === 'paused' ? 'paused' : 'running', pid: st.pid, startedAt: new Date().toISOString() }));
    this.d.log.info({ id: inst.id, name: inst.name }, 're-adopted a container started by the previous daemon');
    await this.recoverOne(await this.mustGet(inst.id));
  }

  /** Watch conmon's exit files; each new one is an exit to record. */
  async watchExits(): Promise<void> {
    const dir = this.d.drivers.container.exitDir;
    await mkdir(dir, { recursive: true });
    this.watcher = new AbortController();
    const signal = this.watcher.signal;
    void (async () => {
      try {
        for await (const ev of watch(dir, { signal })) {
          if (ev.filename && /^[0-9a-f]{64}$/.test(ev.filename)) void this.checkExit(ev.filename).catch((e) => this.d.log.warn({ err: String(e) }, 'exit handling failed'));
        }
      } catch (e) {
        if ((e as Error).name !== 'AbortError') this.d.log.error({ err: String(e) }, 'exit watcher stopped');
      }
    })();
    // Exits that landed before the watcher started.
    for (const f of await readdir(dir)) if (/^[0-9a-f]{64}$/.test(f)) void this.checkExit(f);
  }

  async close(): Promise<void> {
    this.watcher?.abort();
    for (const t of this.restartTimers.values()) clearTimeout(t);
    this.restartTimers.clear();
  }
}

/** A VM-isolated container's cards are set at boot: its guest has no agent to configure one plugged in later. */
function refuseLiveIsolated(inst: Instance): void {
  const live = inst.state.status === 'running' || inst.state.status === 'paused';
  if (live && inst.config.isolation === 'vm') throw wrongState(`container ${inst.name} runs in a VM of its own: connect or disconnect it while it is stopped (it takes effect at its next start)`);
}

/** The label `hull build` puts on its RUN steps' containers (build-containers.ts). */
export const BUILD_LABEL = 'hull.build';

/** How messages name an instance. */
const noun = (inst: Instance) => (inst.type === 'vm' ? 'VM' : 'container');

/** What a VM-isolated container cannot have: a user namespace, another runtime, the host's network. */
function checkIsolated(o: ParsedCreateOptions, _drv: IsolatedDriver): void {
  if (o.userns) throw invalid('--isolation vm and --userns cannot be used together: the VM is the boundary');
  if (o.runtime) throw invalid('--isolation vm and --runtime cannot be used together: the runtime is QEMU');
  if (o.networks?.includes('host')) throw invalid('--isolation vm and --network host cannot be used together: the VM has its own network cards');
  const container = [o.privileged && '--privileged', o.capAdd.length && '--cap-add', o.capDrop.length && '--cap-drop', o.devices.length && '--device', o.seccompProfile && '--security-opt seccomp', o.storageBytes && '--storage-opt'].filter(Boolean);
  if (container.length) throw invalid(`--isolation vm and ${container.join(', ')} cannot be used together: they shape a container, and the VM is the boundary`);
}

/** docker's kill event gives the signal's number. */
const signalNumber = (sig: string): number | string => (/^\d+$/.test(sig) ? Number(sig) : (osConstants.signals as Record<string, number>)[sig] ?? sig);
