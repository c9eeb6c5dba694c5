import type { Instance } from '../../core/instance.js';
import type { Service, ServiceStatus } from '../../core/service.js';
import type { Store } from '../../store/store.js';
import type { NodeView } from '../placement/node.js';
import { Placer } from '../placement/placer.js';
import { plan, type Action, type Plan, type ReplicaView } from './plan.js';
import type { ReplicaOps, ServiceNetOps } from './ports.js';
import { inRotation, viewOf } from './replicas.js';
import { newRevision } from './revisions.js';

export interface ServiceEvent {
  action: string;
  service: { id: string; name: string; app: string };
  replica?: string;
  reason: string;
}

export interface ControllerDeps {
  store: Store;
  replicas: ReplicaOps;
  net: ServiceNetOps;
  /** The nodes replicas may go to, with what is allocated on them now. */
  nodes(): Promise<NodeView[]>;
  /** The nodes being drained: their replicas are removed (and placed again elsewhere, if a node can take them). */
  drainingNodes?(): Promise<Set<string>>;
  emit(e: ServiceEvent): void;
  log: { info(o: object, msg: string): void; warn(o: object, msg: string): void };
  now?: () => number;
  /** The safety-net resync of every service (ms). */
  resyncMs?: number;
}

interface CreateFailures {
  revision: number;
  errors: Array<{ slot: number; message: string }>;
  streak: number;
  blockedUntil: number;
}

/**
 * The service controller: one level-triggered loop per service, never two
 * at once for the same service. A pass reads the service and the replicas it
 * owns, asks the planner (plan.ts) what to do, does it, and sets the time of
 * its next look. Passes are triggered by the store's changes (a replica
 * exited, turned healthy, was removed; the service was applied, scaled,
 * deleted), by their own timers (a monitor window ends, a back-off ends), and
 * by a periodic resync, so a lost trigger only delays. Nothing is kept in
 * memory that a restarted daemon needs: replicas are found by their owner,
 * the rollout by the service's status.
 */
export class ServiceController {
  private active = new Map<string, Promise<void>>();
  private dirty = new Set<string>();
  private timers = new Map<string, { at: number; t: NodeJS.Timeout }>();
  private owners = new Map<string, string>();
  /** What the planner last could have seen of each replica (instanceChanged). */
  private seen = new Map<string, string>();
  private draining = new Set<string>();
  private failures = new Map<string, CreateFailures>();
  /**
   * Each service's stop signal and grace as last read: a pass that finds the
   * service deleted tears its replicas down with them (the delete's own
   * teardown races it), not with the 10 s default.
   */
  private stops = new Map<string, Pick<Service['spec'], 'stopSignal' | 'stopGracePeriodMs'>>();
  private unwatch?: () => void;
  private resync?: NodeJS.Timeout;
  private closed = false;
  private readonly now: () => number;

  constructor(private d: ControllerDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Watch the store and look at every service now (and at orphans of deleted ones). */
  async start(): Promise<void> {
    this.unwatch = this.d.store.watch((c) => {
      if (c.op === 'resync') this.nodesChanged();
      else if (c.kind === 'service') this.trigger(c.id);
      else if (c.kind === 'instance') void this.instanceChanged(c.id, c.op);
      else if (c.kind === 'node') this.nodesChanged();
    });
    this.resync = setInterval(() => void this.resyncAll(), this.d.resyncMs ?? 30_000);
    this.resync.unref();
    await this.resyncAll();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unwatch?.();
    if (this.resync) clearInterval(this.resync);
    for (const { t } of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.active.values()]);
  }

  /**
   * A node changed (labels, availability, up or down): every service looks
   * again at once, and replicas that no node could take are tried again
   * without waiting out their back-off.
   */
  nodesChanged(): void {
    if (this.closed) return;
    this.failures.clear();
    void this.resyncAll().catch((e) => this.d.log.warn({ err: String(e) }, 'service resync after a node change failed'));
  }

  /** Look at a service soon; a pass already running looks again when it ends. */
  trigger(id: string): void {
    if (this.closed) return;
    if (this.active.has(id)) {
      this.dirty.add(id);
      return;
    }
    const run = this.loop(id).finally(() => this.active.delete(id));
    this.active.set(id, run);
  }

  /** Resolves when the service's current pass (and the one it queued) are done. */
  async settled(id: string): Promise<void> {
    while (this.active.has(id)) await this.active.get(id);
  }

  /** Replicas leaving the rotation right now (the API shows them as draining). */
  isDraining(id: string): boolean {
    return this.draining.has(id);
  }

  private async resyncAll(): Promise<void> {
    const services = await this.d.store.list<Service>('service');
    const ids = new Set(services.map((s) => s.id));
    for (const s of services) this.trigger(s.id);
    for (const inst of await this.d.replicas.allOwned()) if (inst.owner && !ids.has(inst.owner.id)) this.trigger(inst.owner.id);
  }

  /**
   * A replica's record changed: look at its service again, but only when
   * something the planner reads moved (its status, health, pending restart,
   * networks), not at each health probe's log line.
   */
  private async instanceChanged(id: string, op: 'put' | 'delete'): Promise<void> {
    let owner = this.owners.get(id);
    if (op === 'put') {
      const inst = await this.d.store.get<Instance>('instance', id).catch(() => undefined);
      owner = inst?.owner?.id ?? owner;
      if (!inst?.owner) return;
      this.owners.set(id, inst.owner.id);
      const s = inst.state;
      const fp = `${s.status}|${s.health?.status ?? ''}|${s.nextRestartAt ?? ''}|${s.startedAt}|${(inst.config.networks ?? []).map((a) => a.ipAddress).join(',')}`;
      if (this.seen.get(id) === fp) return;
      this.seen.set(id, fp);
    } else {
      this.owners.delete(id);
      this.seen.delete(id);
    }
    if (owner) this.trigger(owner);
  }

  private async loop(id: string): Promise<void> {
    do {
      this.dirty.delete(id);
      try {
        await this.pass(id);
      } catch (e) {
        this.d.log.warn({ service: id, err: String(e) }, 'service reconcile failed: retrying');
        this.wake(id, this.now() + 2000);
      }
    } while (this.dirty.has(id) && !this.closed);
  }

  private async pass(id: string): Promise<void> {
    const svc = await this.d.store.get<Service>('service', id);
    if (!svc) return this.teardown(id, this.stops.get(id));
    this.stops.set(id, { stopSignal: svc.spec.stopSignal, stopGracePeriodMs: svc.spec.stopGracePeriodMs });
    let owned = await this.d.replicas.owned(id);
    for (const i of owned) this.owners.set(i.id, id);
    owned = await this.leaveDrainedNodes(svc, owned);
    const views = owned.map((i) => viewOf(i, svc)).filter((v): v is ReplicaView => v !== undefined);
    const status = await this.network(svc, owned, views);
    const f = this.failures.get(id);
    const p = plan({
      revision: svc.revision,
      replicas: svc.replicas,
      update: svc.spec.update,
      rollback: svc.spec.rollback,
      rollout: { ...svc.status.rollout, lastBatchAt: svc.status.rollout.lastBatchAt ? Date.parse(svc.status.rollout.lastBatchAt) : 0 },
      observed: views,
      createErrors: f && f.revision === svc.revision ? f.errors : [],
      createBlockedUntil: f?.blockedUntil,
      now: this.now(),
    });
    await this.execute(svc, p, owned, views, status);
    if (p.wakeAt !== undefined) this.wake(id, p.wakeAt);
  }

  /** Addresses, ingress ports and the balancer's view of ready replicas; returns the status with them. */
  private async network(svc: Service, owned: Instance[], views: ReplicaView[]): Promise<ServiceStatus> {
    const ids = await this.d.net.networkIds();
    const vips: Record<string, string> = {};
    if (svc.spec.endpointMode === 'vip') for (const n of svc.spec.networks) vips[n.name] = await this.d.net.vip(svc.id, n.name);
    const publishedPorts = await this.d.net.holdIngress(svc);
    const ready = new Set(views.filter((v) => inRotation(v, this.draining)).map((v) => v.id));
    await this.d.net.publish(svc.id, {
      id: svc.id,
      name: svc.name,
      endpointMode: svc.spec.endpointMode,
      networks: svc.spec.networks.filter((n) => ids.has(n.name)).map((n) => ({ networkId: ids.get(n.name)!, vip: vips[n.name], aliases: n.aliases })),
      endpoints: owned
        .filter((i) => ready.has(i.id))
        .map((i) => ({ instanceId: i.id, addresses: Object.fromEntries((i.config.networks ?? []).map((a) => [a.networkId, a.ipAddress])) })),
      ports: publishedPorts.map((p) => ({ hostIp: p.hostIp, published: p.published, protocol: p.protocol, target: p.target })),
    });
    return { ...svc.status, vips, publishedPorts };
  }

  private async execute(svc: Service, p: Plan, owned: Instance[], views: ReplicaView[], status: ServiceStatus): Promise<void> {
    const byId = new Map(owned.map((i) => [i.id, i]));
    const rollback = p.actions.find((a) => a.kind === 'rollback');
    if (rollback) return this.rollBack(svc, rollback.to, rollback.reason);
    const removes = p.actions.filter((a): a is Extract<Action, { kind: 'remove' }> => a.kind === 'remove');
    await Promise.all(removes.map((a) => this.removeReplica(svc, byId.get(a.id), a.reason)));
    if (removes.length) await this.network(svc, (await this.d.replicas.owned(svc.id)), views.filter((v) => !removes.some((r) => r.id === v.id)));
    for (const a of p.actions) {
      if (a.kind !== 'restart') continue;
      this.emit(svc, 'replica-restart', a.reason, a.name);
      await this.d.replicas.restart(a.id).catch((e) => this.d.log.warn({ id: a.id, err: String(e) }, 'restart of an unhealthy replica failed'));
    }
    const creates = p.actions.filter((a): a is Extract<Action, { kind: 'create' }> => a.kind === 'create');
    let next = { ...status };
    if (creates.length) next = await this.createReplicas(svc, creates, owned, next);
    for (const a of p.actions) {
      if (a.kind !== 'rollout') continue;
      next = rolloutStatus(next, a, this.now());
      if (a.state !== svc.status.rollout.state) this.emit(svc, `rollout-${a.state}`, a.message);
    }
    await this.saveStatus(svc, next);
  }

  private async createReplicas(svc: Service, creates: Array<Extract<Action, { kind: 'create' }>>, owned: Instance[], status: ServiceStatus): Promise<ServiceStatus> {
    const revision = svc.history.find((h) => h.revision === svc.revision)!;
    const placer = new Placer(await this.d.nodes());
    const req = placementRequest(svc);
    for (const i of owned) if (i.state.status !== 'exited') placer.assume(req, i.node ?? '');
    const errors: Array<{ slot: number; message: string }> = [];
    await Promise.all(
      creates.map(async (a) => {
        const where = placer.place(req);
        if (where.node === undefined) {
          errors.push({ slot: a.slot, message: `no node can take it: ${where.reason}` });
          return;
        }
        const name = `${svc.name}.${a.slot}.${Math.random().toString(16).slice(2, 8)}`;
        try {
          await this.d.replicas.create({ service: svc, revision, slot: a.slot, name, node: where.node });
          this.emit(svc, 'replica-create', a.reason, name);
        } catch (e) {
          errors.push({ slot: a.slot, message: (e as Error).message });
        }
      }),
    );
    const f = this.failures.get(svc.id);
    if (!errors.length) {
      this.failures.delete(svc.id);
      return { ...status, message: '', retryAt: undefined };
    }
    const streak = f && f.revision === svc.revision ? f.streak + 1 : 1;
    const delay = Math.min(30_000, 1000 * 2 ** (streak - 1));
    const blockedUntil = this.now() + delay;
    this.failures.set(svc.id, { revision: svc.revision, errors, streak, blockedUntil });
    const message = `replica ${errors[0].slot} could not be created: ${errors[0].message} (retrying in ${Math.round(delay / 1000)}s)`;
    this.emit(svc, 'replica-create-failed', message);
    this.trigger(svc.id); // the planner decides at once whether this fails an update
    return { ...status, message, retryAt: new Date(blockedUntil).toISOString() };
  }

  /** Replicas on a node being drained go (out of the rotation first); the planner then places new ones where it can. */
  private async leaveDrainedNodes(svc: Service, owned: Instance[]): Promise<Instance[]> {
    const drained = (await this.d.drainingNodes?.()) ?? new Set<string>();
    const leaving = owned.filter((i) => i.node && drained.has(i.node));
    if (!leaving.length) return owned;
    await Promise.all(leaving.map((i) => this.removeReplica(svc, i, 'its node is being drained')));
    return this.d.replicas.owned(svc.id);
  }

  /** Out of the rotation first, its connections drained, then stopped and removed. */
  private async removeReplica(svc: Service, inst: Instance | undefined, reason: string): Promise<void> {
    if (!inst) return;
    const addrs = (inst.config.networks ?? []).map((a) => a.ipAddress);
    if (inst.state.status === 'running') {
      this.draining.add(inst.id);
      try {
        await this.network(svc, await this.d.replicas.owned(svc.id), (await this.d.replicas.owned(svc.id)).map((i) => viewOf(i, svc)).filter((v): v is ReplicaView => !!v));
        await this.d.net.drained(addrs, svc.spec.stopGracePeriodMs);
      } finally {
        this.draining.delete(inst.id);
      }
    }
    await this.d.replicas.remove(inst.id, svc.spec);
    this.emit(svc, 'replica-remove', reason, inst.name);
  }

  private async rollBack(svc: Service, to: number, reason: string): Promise<void> {
    const target = svc.history.find((h) => h.revision === to);
    if (!target) {
      await this.saveStatus(svc, rolloutStatus(svc.status, { kind: 'rollout', state: 'paused', from: to, to: svc.revision, message: `update paused: ${reason} (revision ${to} is no longer kept)` }, this.now()));
      return;
    }
    const next = newRevision(svc, target.spec, target.imageId, `back to revision ${to}'s template: ${reason}`, new Date(this.now()), svc.replicas, true);
    const message = `revision ${svc.revision} failed (${reason}): rolled back to revision ${to}'s template, as revision ${next.revision}`;
    await this.d.store.update<Service>('service', svc.id, (cur) => (cur.revision === svc.revision ? { ...next, replicas: cur.replicas, status: { ...next.status, message } } : cur));
    this.emit(svc, 'rollback', `revision ${svc.revision} failed: ${reason}; back to the template of revision ${to}`);
  }

  private async saveStatus(svc: Service, status: ServiceStatus): Promise<void> {
    if (JSON.stringify(status) === JSON.stringify(svc.status)) return;
    await this.d.store.update<Service>('service', svc.id, (cur) => (cur.revision === svc.revision ? { ...cur, status: { ...status, ...(status.rollout.state === 'complete' ? { stableRevision: cur.revision } : {}) } } : cur));
  }

  /** A deleted service: every replica goes (with the service's stop signal and grace, when known), then its addresses and ports. */
  async teardown(id: string, stop: Pick<Service['spec'], 'stopSignal' | 'stopGracePeriodMs'> = this.stops.get(id) ?? { stopSignal: 'SIGTERM', stopGracePeriodMs: 10_000 }): Promise<void> {
    const owned = await this.d.replicas.owned(id);
    await this.d.net.publish(id, undefined);
    await Promise.all(owned.map((i) => this.d.replicas.remove(i.id, stop).catch((e) => this.d.log.warn({ id: i.id, err: String(e) }, 'replica removal failed'))));
    await this.d.net.release(id);
    this.failures.delete(id);
    this.stops.delete(id);
    const t = this.timers.get(id);
    if (t) clearTimeout(t.t);
    this.timers.delete(id);
  }

  private wake(id: string, at: number): void {
    const cur = this.timers.get(id);
    if (cur && cur.at <= at) return;
    if (cur) clearTimeout(cur.t);
    const t = setTimeout(() => {
      this.timers.delete(id);
      this.trigger(id);
    }, Math.max(0, at - this.now()) + 5);
    t.unref();
    this.timers.set(id, { at, t });
  }

  private emit(svc: Service, action: string, reason: string, replica?: string): void {
    this.d.emit({ action, service: { id: svc.id, name: svc.name, app: svc.app }, ...(replica ? { replica } : {}), reason });
  }
}

function placementRequest(svc: Service) {
  const r = svc.spec.resources;
  return {
    service: svc.id,
    demand: { cpus: r.reserveCpus ?? 0, memoryBytes: r.reserveMemoryBytes ?? 0 },
    constraints: svc.spec.placement.constraints,
    spread: svc.spec.placement.spread,
    maxReplicasPerNode: svc.spec.placement.maxReplicasPerNode,
    strategy: 'spread' as const,
  };
}

function rolloutStatus(s: ServiceStatus, a: Extract<Action, { kind: 'rollout' }>, now: number): ServiceStatus {
  const at = new Date(now).toISOString();
  const r = s.rollout;
  const same = r.state === a.state && r.from === a.from && r.to === a.to && r.message === a.message && a.batchAt === undefined;
  if (same) return s;
  return { ...s, rollout: { state: a.state, from: a.from, to: a.to, message: a.message, updatedAt: at, ...(a.batchAt !== undefined ? { lastBatchAt: new Date(a.batchAt).toISOString() } : r.lastBatchAt ? { lastBatchAt: r.lastBatchAt } : {}) } };
}
