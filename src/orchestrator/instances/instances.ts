import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import type { EventSink } from '../../core/events.js';
import { HullError, invalid, notFound, wrongState } from '../../core/errors.js';
import type { HealthState } from '../../core/health.js';
import type { Instance, InstanceState, Resources, RestartPolicySpec } from '../../core/instance.js';
import { KeyedLock } from '../../core/keyed-lock.js';
import { Reverter } from '../../core/reverter.js';
import type { ImageService } from '../../image/image-service.js';
import type { NetRequest, NetworkManager } from '../../net/manager.js';
import type { CreateContext, Driver, ExitStatus, StdioStream } from '../../runtime/driver.js';
import type { DriverRegistry } from '../../runtime/registry.js';
import type { Store } from '../../store/store.js';
import { execProbe } from '../health/exec.js';
import { HealthMonitor } from '../health/monitor.js';
import type { InstanceVolumes } from '../../storage/volumes/instance-volumes.js';
import type { IdRanges } from './id-ranges.js';
import { RestartTimers, restartDecision } from './restarts.js';

/**
 * What is reported of an instance (docker's container actions; a VM's events
 * have the type `vm`). exec_create and exec_start carry the command after a
 * colon, and health_status the new status, as docker's do.
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
  | 'exec_die'
  | `health_status: ${string}`;

export interface InstancesLog {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

export interface InstancesDeps {
  store: Store;
  drivers: DriverRegistry;
  net: NetworkManager;
  images: ImageService;
  log: InstancesLog;
  /** --userns containers' host id ranges: freed when the container goes. */
  idRanges?: IdRanges;
  /** Where the events users see go (`hull events`). */
  events: EventSink;
  /** Each instance's volumes: mounted before it starts, let go after it exits, forgotten at rm. */
  storage: InstanceVolumes;
}

const live = (s: InstanceState['status']) => s === 'running' || s === 'paused';

/**
 * Instances: the lifecycle every container and VM goes through, the one
 * place that changes their records. Each change runs under the instance's
 * lock; drivers do the machine-side work; restart policies (with back-off),
 * health checks and exit handling live here, where every start and exit
 * passes. The engine is the front that parses requests and calls these; the
 * service controller calls them for replicas.
 *
 *   admit(record)    create: addresses, the record as `creating`, the driver's files, `created`
 *   start / stop / kill / pause / unpause / remove
 *   checkExit(id)    an exit reported by a monitor (idempotent) → reap → restart policy
 *   wait / attach
 */
export class Instances {
  /** Internal signals: `exit:<id>` and `removed:<id>`, for waiters. */
  readonly events = new EventEmitter();
  private lock = new KeyedLock();
  private restarts: RestartTimers;
  readonly health: HealthMonitor;

  constructor(private d: InstancesDeps) {
    this.events.setMaxListeners(0);
    this.restarts = new RestartTimers((id) => void this.restartNow(id));
    this.health = new HealthMonitor({
      report: (id, h, changed) => this.reportHealth(id, h, changed),
      onError: (id, e) => d.log.warn({ id, err: String(e) }, 'health check result not recorded'),
    });
  }

  driver(inst: Pick<Instance, 'type' | 'config'>): Driver {
    return this.d.drivers.for(inst);
  }

  /** Run `fn` under the instance's lock (copy, snapshots: nothing else changes it meanwhile). */
  withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(id, fn);
  }

  /** An event of the instance, with docker's attributes: its labels, image and name, and what the action adds. */
  emit(action: InstanceAction, inst: Instance, extra: Record<string, string> = {}): void {
    const isolation: Record<string, string> = inst.config.isolation === 'vm' ? { isolation: 'vm' } : {};
    this.d.events.publish(inst.type === 'vm' ? 'vm' : 'container', action, inst.id, { ...inst.config.labels, image: inst.config.image, name: inst.name, ...isolation, ...extra });
  }

  async mustGet(id: string): Promise<Instance> {
    const inst = await this.d.store.get<Instance>('instance', id);
    if (!inst) throw notFound(`container ${id}`);
    return inst;
  }

  save(id: string, mutate: (s: InstanceState) => Partial<InstanceState>): Promise<Instance> {
    return this.d.store.update<Instance>('instance', id, (cur) => ({ ...cur, state: { ...cur.state, ...mutate(cur.state) } }));
  }

  async context(inst: Instance): Promise<CreateContext> {
    if (inst.type === 'vm') return { layerDirs: [] }; // a VM boots its own disk
    const image = await this.d.images.resolve(inst.config.imageId);
    return { layerDirs: await this.d.images.layerDirs(image) };
  }

  // ---- create ----

  /**
   * Make a new instance real, all or nothing: addresses and host ports first (a
   * daemon killed before the record lands frees them at recovery), then the
   * record as `creating` (so a daemon killed mid-way finds and removes the
   * leftovers), then the driver's files, then `created`.
   */
  async admit(inst: Instance, net: NetRequest): Promise<Instance> {
    const { id, name } = inst;
    const drv = this.driver(inst);
    const r = new Reverter();
    try {
      Object.assign(inst.config, await this.d.net.allocate({ id, name }, net, r));
      await this.d.store.create('instance', id, name, inst);
      r.add(() => this.d.store.delete('instance', id));
      r.add(() => drv.remove(inst));
      await drv.create(inst, await this.context(inst));
      const done = await this.save(id, () => ({ status: 'created' }));
      r.success();
      this.emit('create', done);
      return done;
    } finally {
      await r.revert();
    }
  }

  // ---- lifecycle ----

  start(id: string): Promise<Instance> {
    return this.lock.run(id, () => this.startLocked(id));
  }

  private async startLocked(id: string, isRestart = false): Promise<Instance> {
    const inst = await this.mustGet(id);
    if (inst.state.status === 'running') return inst;
    if (inst.state.status === 'paused') throw wrongState(`${noun(inst)} ${inst.name} is paused: unpause it instead`);
    if (inst.state.status === 'removing') throw wrongState(`${noun(inst)} ${inst.name} is being removed`);
    this.restarts.cancel(id);
    try {
      const ctx = await this.context(inst);
      const network = await this.d.net.up(inst);
      const storage = await this.d.storage.up(inst);
      // Taken before the program runs: its first output is never older than its start (logs --since StartedAt).
      const startedAt = new Date().toISOString();
      const { pid, monitorPid } = await this.driver(inst).start(inst, { ...ctx, network, storage });
      const next = await this.save(id, (s) => ({
        status: 'running',
        pid,
        conmonPid: monitorPid,
        exitCode: 0,
        oomKilled: false,
        error: '',
        startedAt,
        finishedAt: '',
        stoppedByUser: false,
        nextRestartAt: undefined,
        health: next0(inst),
        restartCount: isRestart ? s.restartCount + 1 : s.restartCount,
      }));
      this.emit('start', next);
      this.watchHealth(next);
      // The exit may have happened before we recorded `running` (a fast command): check now.
      void this.checkExit(id);
      return next;
    } catch (e) {
      const err = e instanceof HullError ? e : new HullError('internal', String(e));
      await this.d.net.down(inst).catch(() => undefined);
      await this.d.storage.down(inst).catch(() => undefined);
      const exitCode = err.code === 'command_not_found' ? 127 : err.code === 'command_not_executable' ? 126 : 128;
      // A restart that cannot start counts as a failed run of no length (the back-off grows).
      const now = new Date().toISOString();
      const failed = await this.save(id, () => ({ status: inst.state.status === 'created' ? 'created' : 'exited', error: err.message, exitCode, nextRestartAt: undefined, ...(isRestart ? { startedAt: now, finishedAt: now } : {}) }));
      // A waiter (docker run's wait, `hull wait` on a created container) learns the failure's code.
      this.events.emit(`exit:${id}`, failed.state);
      if (failed.config.autoRemove) await this.removeLocked(id, true).catch(() => undefined);
      else if (isRestart) await this.afterExit(failed);
      throw err.wrap(`cannot start ${noun(inst)} ${inst.name}`);
    }
  }

  async stop(id: string, timeoutSec = 10, signal?: string): Promise<Instance> {
    this.restarts.cancel(id);
    return this.lock.run(id, async () => {
      const cur = await this.mustGet(id);
      // Marked first, also when it is between restarts: a restart already queued on the lock must not revive it.
      const marked = await this.save(id, () => ({ stoppedByUser: true, nextRestartAt: undefined }));
      if (!live(cur.state.status)) return marked;
      if (cur.state.status === 'paused') await this.driver(cur).resume(cur).catch(() => undefined);
      await this.driver(cur).stop(cur, timeoutSec, signal);
      const done = await this.reapLocked(id);
      this.emit('stop', done);
      return done;
    });
  }

  /** `kill`: a user's SIGKILL counts as a stop (no restart policy); `byPolicy` kills (an unhealthy replica) do not. */
  async kill(inst: Instance, signal = 'SIGKILL', byPolicy = false): Promise<void> {
    if (!live(inst.state.status)) throw wrongState(`${noun(inst)} ${inst.name} is not running`);
    if (!byPolicy && (signal === 'SIGKILL' || signal === '9')) await this.save(inst.id, () => ({ stoppedByUser: true }));
    await this.driver(inst).kill(inst, signal);
    this.emit('kill', inst, { signal: String(signalNumber(signal)) });
  }

  async restart(id: string, timeoutSec = 10): Promise<Instance> {
    await this.stop(id, timeoutSec);
    const started = await this.lock.run(id, () => this.startLocked(id));
    this.emit('restart', started);
    return started;
  }

  pause(id: string): Promise<Instance> {
    return this.transition(id, 'running', 'paused', 'pause', (d, i) => d.pause(i));
  }

  unpause(id: string): Promise<Instance> {
    return this.transition(id, 'paused', 'running', 'unpause', (d, i) => d.resume(i));
  }

  /** One status change done by the driver under the instance's lock: pause and unpause. */
  private transition(id: string, from: 'running' | 'paused', to: 'running' | 'paused', event: 'pause' | 'unpause', act: (drv: Driver, inst: Instance) => Promise<void>): Promise<Instance> {
    return this.lock.run(id, async () => {
      const cur = await this.mustGet(id);
      if (cur.state.status !== from) throw wrongState(`${noun(cur)} ${cur.name} is not ${from}`);
      await act(this.driver(cur), cur);
      const next = await this.save(cur.id, () => ({ status: to }));
      this.emit(event, next);
      return next;
    });
  }

  /** `volumes`: also the instance's anonymous volumes (never named ones). */
  async remove(id: string, force = false, volumes = false): Promise<void> {
    this.restarts.cancel(id);
    await this.lock.run(id, () => this.removeLocked(id, force, volumes));
  }

  private async removeLocked(id: string, force: boolean, volumes = false): Promise<void> {
    const inst = await this.d.store.get<Instance>('instance', id);
    if (!inst) return;
    const running = live(inst.state.status);
    if (running && !force) throw new HullError('conflict', `${noun(inst)} ${inst.name} is ${inst.state.status}: stop it first or use --force`);
    this.health.unwatch(id);
    await this.save(id, () => ({ status: 'removing', stoppedByUser: true }));
    const drv = this.driver(inst);
    if (running) {
      if (inst.state.status === 'paused') await drv.resume(inst).catch(() => undefined);
      await drv.stop(inst, 0, 'SIGKILL').catch(() => undefined);
    }
    await drv.remove(inst);
    await this.d.net.down(inst);
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

  /** Called when a monitor reports an exit (or we suspect one). Idempotent. */
  async checkExit(id: string): Promise<void> {
    const inst = await this.d.store.get<Instance>('instance', id);
    if (!inst || !live(inst.state.status)) return;
    const ex = await this.driver(inst).exitStatus(inst);
    if (!ex) return;
    await this.lock.run(id, async () => {
      const cur = await this.d.store.get<Instance>('instance', id);
      if (!cur || !live(cur.state.status)) return;
      const done = await this.reapLocked(id, ex);
      await this.afterExit(done);
    });
  }

  /** Record an exit (read now unless the caller has it) and free the runtime's resources. Caller holds the lock. */
  async reapLocked(id: string, known?: ExitStatus): Promise<Instance> {
    const inst = await this.mustGet(id);
    const drv = this.driver(inst);
    this.health.unwatch(id);
    const ex = known ?? (await drv.exitStatus(inst)) ?? { exitCode: 255, oomKilled: false, finishedAt: new Date().toISOString() };
    const done = await this.save(id, () => ({ status: 'exited', pid: 0, conmonPid: 0, exitCode: ex.exitCode, oomKilled: ex.oomKilled, finishedAt: ex.finishedAt, health: undefined }));
    if (ex.oomKilled) this.emit('oom', done);
    this.emit('die', done, { exitCode: String(ex.exitCode) });
    // Waiters learn the exit code now; the release below still holds the lock, so
    // nothing else touches this instance until its resources are freed.
    this.events.emit(`exit:${id}`, done.state);
    // Unplugging the network (removing its namespace) overlaps the runtime's release.
    await Promise.all([drv.release(inst), this.d.net.down(inst)]);
    // After the runtime let go: a VM's QEMU is gone before another may take its disks.
    await this.d.storage.down(inst);
    return done;
  }

  /** After an exit: --rm removes it; a restart policy schedules the next run after its back-off. */
  async afterExit(inst: Instance): Promise<void> {
    if (inst.config.autoRemove) {
      void this.lock.run(inst.id, () => this.removeLocked(inst.id, true)).catch((e) => this.d.log.warn({ err: String(e) }, 'auto-remove failed'));
      return;
    }
    const d = restartDecision(inst);
    if (!d.restart) return;
    const at = Date.now() + d.delayMs;
    await this.save(inst.id, () => ({ nextRestartAt: new Date(at).toISOString(), restartStreak: d.streak }));
    this.restarts.at(inst.id, at);
  }

  /** A restart timer fired (or a restarted daemon found one due). */
  async restartNow(id: string): Promise<void> {
    await this.lock
      .run(id, async () => {
        const cur = await this.d.store.get<Instance>('instance', id);
        if (!cur || cur.state.status !== 'exited' || cur.state.stoppedByUser) return;
        await this.startLocked(id, true);
      })
      .catch((e) => this.d.log.warn({ id, err: String(e) }, 'restart failed'));
  }

  /** Pick up a pending restart after a daemon restart. */
  resumeRestart(inst: Instance): void {
    const at = inst.state.nextRestartAt ? Date.parse(inst.state.nextRestartAt) : Date.now();
    this.restarts.at(inst.id, Number.isFinite(at) ? at : Date.now());
  }

  /**
   * Wait as docker's conditions say: `not-running` (now, if it is not), `next-exit`,
   * or `removed` (the exit code once the container is gone, for `run --rm`).
   * A container that was created and never started has not had its run yet:
   * `not-running` waits for it to start and stop (as docker does since 28.1),
   * or for a start that fails (with that failure's code).
   */
  async wait(inst: Instance, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running', signal?: AbortSignal): Promise<{ exitCode: number; error: string; oomKilled: boolean }> {
    const s = inst.state;
    const unborn = s.status === 'created' && !s.startedAt && !s.error;
    if (!live(s.status) && !unborn && condition === 'not-running') return { exitCode: s.exitCode, error: s.error, oomKilled: s.oomKilled };
    const event = condition === 'removed' ? `removed:${inst.id}` : `exit:${inst.id}`;
    return new Promise((resolve) => {
      const onExit = (x: InstanceState) => {
        signal?.removeEventListener('abort', onAbort);
        resolve({ exitCode: x.exitCode, error: x.error, oomKilled: x.oomKilled });
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

  /** New limits and restart policy (docker update): a running or paused instance's driver changes its cgroup at once; later starts use them too. */
  async update(id: string, u: { resources?: Resources; restartPolicy?: RestartPolicySpec }): Promise<Instance> {
    const r = u.resources ?? {};
    return this.lock.run(id, async () => {
      const cur = await this.mustGet(id);
      if (u.restartPolicy && u.restartPolicy.name !== 'no' && cur.config.autoRemove) throw invalid('a restart policy cannot be set on a container started with --rm');
      const drv = this.driver(cur);
      if (live(cur.state.status) && Object.keys(r).length) {
        if (!drv.update) throw new HullError('unavailable', `${noun(cur)} ${cur.name}: its limits cannot change while it runs`);
        await drv.update(cur, r);
      }
      return this.d.store.update<Instance>('instance', id, (c) => ({ ...c, config: { ...c.config, resources: { ...c.config.resources, ...r }, ...(u.restartPolicy ? { restartPolicy: u.restartPolicy } : {}) } }));
    });
  }

  /** Attach before start (docker run's and start -a's order): the process is set up under its monitor, not yet running. */
  async attach(id: string): Promise<{ inst: Instance; stdio: StdioStream }> {
    return this.lock.run(id, async () => {
      const cur = await this.mustGet(id);
      const drv = this.driver(cur);
      if (cur.state.status === 'created' || cur.state.status === 'exited') {
        const st = await drv.status(cur);
        if (st.status === 'absent') {
          const ctx = await this.context(cur);
          const network = await this.d.net.up(cur);
          await drv.init(cur, { ...ctx, network, storage: await this.d.storage.up(cur) }).catch(async (e) => {
            await this.d.net.down(cur).catch(() => undefined);
            await this.d.storage.down(cur).catch(() => undefined);
            throw e;
          });
        }
      } else if (!live(cur.state.status)) {
        throw wrongState(`${noun(cur)} ${cur.name} is not running`);
      }
      const stdio = await drv.attach(cur);
      this.emit('attach', cur);
      return { inst: cur, stdio };
    });
  }

  // ---- health ----

  /** Start probing a running instance that has a health check (at start, and at recovery). */
  watchHealth(inst: Instance): void {
    const check = inst.config.healthcheck;
    if (!check || inst.state.status !== 'running') return;
    const net = inst.config.networks?.[0];
    this.health.watch(
      {
        id: inst.id,
        check,
        startedAt: Date.parse(inst.state.startedAt) || Date.now(),
        address: inst.config.networkMode === 'host' ? '127.0.0.1' : net?.ipAddress,
        exec: (cmd, timeoutMs) => execProbe(this.driver(inst), inst, cmd, timeoutMs),
      },
      inst.state.health,
    );
  }

  private async reportHealth(id: string, h: HealthState, changed: boolean): Promise<void> {
    const inst = await this.d.store.update<Instance>('instance', id, (cur) => (cur.state.status === 'running' ? { ...cur, state: { ...cur.state, health: h } } : cur));
    if (changed && inst.state.status === 'running') this.emit(`health_status: ${h.status}`, inst);
  }

  async close(): Promise<void> {
    this.restarts.close();
    this.health.close();
  }

  /** For `exec` and the like: refuse an instance that does not run, naming it. */
  static mustRun(inst: Instance): void {
    if (inst.state.status !== 'running') throw wrongState(`${noun(inst)} ${inst.name} is not running`);
  }

  static refuseEmpty(cmd: string[]): void {
    if (!cmd.length) throw invalid('exec needs a command');
  }
}

/** docker's kill event gives the signal's number. */
const signalNumber = (sig: string): number | string => (/^\d+$/.test(sig) ? Number(sig) : ((osConstants.signals as Record<string, number>)[sig] ?? sig));

/** How messages name an instance. */
export const noun = (inst: Pick<Instance, 'type'>) => (inst.type === 'vm' ? 'VM' : 'container');

/** The health an instance starts with: `starting` when it has a check. */
function next0(inst: Instance): HealthState | undefined {
  return inst.config.healthcheck ? { status: 'starting', failingStreak: 0, log: [], since: new Date().toISOString() } : undefined;
}
