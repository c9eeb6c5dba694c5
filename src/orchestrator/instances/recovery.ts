import type { Instance } from '../../core/instance.js';
import type { NetworkManager } from '../../net/manager.js';
import type { Store } from '../../store/store.js';
import type { InstanceVolumes } from '../../storage/volumes/instance-volumes.js';
import type { IdRanges } from './id-ranges.js';
import type { Instances, InstancesLog } from './instances.js';

/** The label `hull build` puts on its RUN steps' containers (engine/build-containers.ts). */
export const BUILD_LABEL = 'hull.build';

/**
 * Re-adopt what a previous daemon left: instances still running under their
 * monitors are kept (their health checks resume); exits that happened
 * meanwhile are recorded and restart policies honoured (a pending back-off
 * picks up where it was); half-made instances are removed; a build's RUN
 * container belongs to a build that died with the last daemon, and goes.
 * Networks come last: what still runs keeps its network, orphans go, the
 * rules are rebuilt from the records.
 */
export class Recovery {
  constructor(
    private x: Instances,
    private d: { store: Store; net: NetworkManager; log: InstancesLog; idRanges?: IdRanges; storage: InstanceVolumes; beforeNetworks?: () => Promise<void> },
  ) {}

  async run(): Promise<void> {
    for (const inst of await this.d.store.list<Instance>('instance')) {
      try {
        if (inst.config.labels[BUILD_LABEL] === 'true') await this.sweepBuildContainer(inst);
        else await this.one(inst);
      } catch (e) {
        this.d.log.warn({ id: inst.id, err: String(e) }, 'recovery failed');
      }
    }
    await this.idRanges();
    await this.d.beforeNetworks?.();
    await this.d.net.recover(await this.d.store.list<Instance>('instance'));
  }

  /** Ranges of containers that are gone are freed; the one range records from before allocation share stays held. */
  private async idRanges(): Promise<void> {
    if (!this.d.idRanges) return;
    const all = await this.d.store.list<Instance>('instance');
    const legacy = all.find((i) => i.config.userns && !i.config.idMap && i.config.isolation !== 'vm');
    if (legacy) await this.d.idRanges.holdLegacy(legacy.id);
    await this.d.idRanges.sweep(new Set(all.map((i) => i.id)));
  }

  private async sweepBuildContainer(inst: Instance): Promise<void> {
    this.d.log.info({ id: inst.id }, "removing a build container left by the previous daemon's build");
    await this.x.save(inst.id, () => ({ status: 'removing' }));
    await this.one({ ...inst, state: { ...inst.state, status: 'removing' } });
  }

  private async one(inst: Instance): Promise<void> {
    const drv = this.x.driver(inst);
    const s = inst.state.status;
    const what = kind(inst);
    if (s === 'creating' || s === 'removing') {
      this.d.log.info({ id: inst.id, name: inst.name, status: s }, `removing a half-made or half-removed ${what}`);
      await drv.remove(inst);
      await this.d.net.down(inst);
      await this.d.storage.down(inst);
      await this.d.net.release(inst);
      await this.d.store.delete('instance', inst.id);
      await this.d.idRanges?.release(inst.id, inst.config.idMap);
      await this.d.storage.forget(inst, inst.state.status === 'creating' || inst.config.autoRemove);
      return;
    }
    if (s === 'created') return this.created(inst);
    if (s !== 'running' && s !== 'paused') {
      if (s === 'exited' && inst.state.nextRestartAt && !inst.state.stoppedByUser) this.x.resumeRestart(inst);
      else if (s === 'exited' && !inst.state.stoppedByUser && inst.config.restartPolicy.name === 'always') await this.x.afterExit(inst);
      return;
    }
    if (await drv.exitStatus(inst)) {
      await this.x.withLock(inst.id, async () => this.x.afterExit(await this.x.reapLocked(inst.id)));
      return;
    }
    if (!(await drv.monitorAlive(inst))) {
      // The monitor is gone and left no exit code: the instance cannot be supervised.
      await drv.stop(inst, 0, 'SIGKILL').catch(() => undefined);
      await drv.release(inst).catch(() => undefined);
      await this.d.net.down(inst).catch(() => undefined);
      await this.d.storage.down(inst).catch(() => undefined);
      await this.x.save(inst.id, () => ({ status: 'exited', exitCode: 255, error: `${what} monitor died`, finishedAt: new Date().toISOString(), health: undefined }));
      return;
    }
    this.d.log.info({ id: inst.id, name: inst.name }, `re-adopted a running ${what}`);
    this.x.watchHealth(inst);
  }

  /**
   * A record still `created` may have been started by a daemon killed before
   * it wrote `running`: believe the runtime, not the record.
   */
  private async created(inst: Instance): Promise<void> {
    const drv = this.x.driver(inst);
    const st = await drv.status(inst);
    if (st.status === 'absent') return;
    if (st.status === 'created') {
      if (!(await drv.monitorAlive(inst))) await drv.release(inst);
      return;
    }
    // It ran: record that, then let the normal exit path take over if it already ended.
    await this.x.save(inst.id, () => ({ status: st.status === 'paused' ? 'paused' : 'running', pid: st.pid, startedAt: new Date().toISOString() }));
    this.d.log.info({ id: inst.id, name: inst.name }, `re-adopted a ${kind(inst)} started by the previous daemon`);
    await this.one(await this.x.mustGet(inst.id));
  }
}

/** How the log names an instance: a VM is not a container. */
const kind = (inst: Instance) => (inst.type === 'vm' ? 'VM' : inst.config.isolation === 'vm' ? 'VM-isolated container' : 'container');
