import type { RolloutState, UpdateConfig } from '../../core/service.js';

/**
 * The service reconciler's brain, as a pure function: from what a service
 * wants and what its replicas are doing now, the next actions. It is
 * level-triggered: it knows nothing of what happened before except what the
 * replicas and the stored rollout status show, so running it again (after a
 * daemon restart, a lost event, a periodic resync) gives the same answer.
 *
 * Replicas sit in slots 1..N. Scaling adds or empties slots; a rolling update
 * replaces each slot's replica with one of the new revision, a batch at a
 * time (`parallelism`), stop-first or start-first, waiting for each new
 * replica to be ready and then to stay so for `monitor`; a replica that never
 * gets ready (ready timeout), exits or turns unhealthy fails the update, and
 * failures beyond `max_failure_ratio` roll back (Hull's default), pause or
 * are ignored (`failure_action`). Restarts of an exited replica are the
 * instance layer's (restart policy with back-off); the planner only waits.
 */

export type Phase =
  /** created, not started yet */
  | 'created'
  /** running, not ready yet (no health check passed) */
  | 'starting'
  | 'ready'
  | 'unhealthy'
  /** exited, a restart is due (back-off) */
  | 'restarting'
  /** exited, no restart will come (condition none/on-failure, or it gave up) */
  | 'failed'
  | 'completed';

export interface ReplicaView {
  id: string;
  name: string;
  slot: number;
  revision: number;
  phase: Phase;
  /** When it entered its phase (ms): creation for created/starting, readiness for ready. */
  since: number;
  createdAt: number;
}

export interface RolloutView {
  state: RolloutState;
  from: number;
  to: number;
  /** When the last batch began (ms), for `delay`. */
  lastBatchAt: number;
}

export interface PlanInput {
  revision: number;
  replicas: number;
  update: UpdateConfig;
  rollback: UpdateConfig;
  rollout: RolloutView;
  observed: ReplicaView[];
  /** Creates of the current revision that failed since the update began (a missing image, a taken port). */
  createErrors: Array<{ slot: number; message: string }>;
  /** No create before this time (ms): back-off after a failed create. */
  createBlockedUntil?: number;
  now: number;
}

export type Action =
  | { kind: 'create'; slot: number; revision: number; reason: string }
  | { kind: 'remove'; id: string; name: string; reason: string }
  | { kind: 'restart'; id: string; name: string; reason: string }
  /** Go back to an earlier revision (the caller makes it the service's). */
  | { kind: 'rollback'; to: number; reason: string }
  | { kind: 'rollout'; state: RolloutState; from: number; to: number; message: string; batchAt?: number };

export interface Plan {
  actions: Action[];
  /** When to look again even if nothing happens (a timeout, monitor or delay ends); undefined: on the next event. */
  wakeAt?: number;
}

const RANK: Record<Phase, number> = { ready: 6, starting: 5, created: 4, restarting: 3, unhealthy: 2, completed: 1, failed: 0 };

export function plan(input: PlanInput): Plan {
  const { revision, replicas: want, now } = input;
  const actions: Action[] = [];
  const wakes: number[] = [];
  const removed = new Set<string>();
  const remove = (r: ReplicaView, reason: string) => {
    if (removed.has(r.id)) return;
    removed.add(r.id);
    actions.push({ kind: 'remove', id: r.id, name: r.name, reason });
  };

  // Duplicates (a slot twice at one revision, after a crash mid-create): keep the most advanced.
  const bySlotRev = new Map<string, ReplicaView[]>();
  for (const r of input.observed) {
    const k = `${r.slot}/${r.revision}`;
    bySlotRev.set(k, [...(bySlotRev.get(k) ?? []), r]);
  }
  for (const group of bySlotRev.values()) {
    if (group.length < 2) continue;
    const [, ...extra] = [...group].sort((a, b) => RANK[b.phase] - RANK[a.phase] || a.createdAt - b.createdAt);
    for (const r of extra) remove(r, `slot ${r.slot} has another replica of revision ${r.revision}`);
  }
  const live = input.observed.filter((r) => !removed.has(r.id));

  // Scale down: slots above the count go, highest first.
  for (const r of live.filter((x) => x.slot > want).sort((a, b) => b.slot - a.slot)) remove(r, `scaled to ${want}`);
  const inSlots = live.filter((r) => r.slot <= want && r.slot >= 1);

  const fresh = inSlots.filter((r) => r.revision === revision);
  const old = inSlots.filter((r) => r.revision !== revision);
  const ro = input.rollout;
  const rollingBack = ro.state === 'rolling-back' || ro.state === 'rolled-back';
  const cfg = rollingBack ? input.rollback : input.update;
  const updating = old.length > 0 || ro.state === 'progressing' || ro.state === 'rolling-back';

  // A replica that turned unhealthy is restarted (its restart policy's back-off applies to the exit).
  for (const r of inSlots) if (r.phase === 'unhealthy' && !updating) actions.push({ kind: 'restart', id: r.id, name: r.name, reason: 'failed its health check' });

  const available = (r: ReplicaView) => r.phase === 'ready' && now - r.since >= cfg.monitorMs;
  if (updating && ro.state !== 'paused') {
    // Failures of the new revision during the update.
    const failed = fresh.filter((r) => failedInUpdate(r, cfg, now));
    const failures = failed.length + input.createErrors.length;
    const ratio = failures / Math.max(1, fresh.length + input.createErrors.length);
    if (failures && cfg.failureAction !== 'continue' && ratio > cfg.maxFailureRatio) {
      const why = failed.length ? `${failed[0].name} ${failureWhy(failed[0], cfg, now)}` : `replica ${input.createErrors[0].slot} could not be created: ${input.createErrors[0].message}`;
      if (ro.from === 0) {
        // A first deploy has nothing to go back to: say why, keep trying (with back-off).
        if (ro.state !== 'progressing' || !failed.length) actions.push({ kind: 'rollout', state: 'progressing', from: 0, to: revision, message: `not ready: ${why}` });
      } else if (cfg.failureAction === 'rollback' && !rollingBack && ro.from !== revision) {
        actions.push({ kind: 'rollback', to: ro.from, reason: why });
        return { actions };
      } else {
        actions.push({ kind: 'rollout', state: 'paused', from: ro.from, to: revision, message: `update paused: ${why}` });
        return { actions };
      }
    }
    for (const r of fresh) {
      if (r.phase === 'starting' || r.phase === 'created') wakes.push(r.since + cfg.readyTimeoutMs);
      if (r.phase === 'ready' && !available(r)) wakes.push(r.since + cfg.monitorMs);
    }
    const pending = fresh.filter((r) => !available(r) && r.phase !== 'completed');
    const batch = cfg.parallelism === 0 ? Infinity : cfg.parallelism;
    const nextBatchAt = ro.lastBatchAt + cfg.delayMs;
    const oldSlots = [...new Set(old.map((r) => r.slot))].sort((a, b) => a - b);
    if (cfg.order === 'start-first') {
      // Slots whose new replica is available lose their old one.
      for (const r of old) if (fresh.some((f) => f.slot === r.slot && available(f))) remove(r, `replaced by revision ${revision}`);
      const waiting = oldSlots.filter((s) => !fresh.some((f) => f.slot === s));
      if (waiting.length && pending.length < batch) {
        if (now < nextBatchAt) wakes.push(nextBatchAt);
        else {
          const take = waiting.slice(0, Math.min(batch - pending.length, waiting.length));
          for (const slot of take) actions.push({ kind: 'create', slot, revision, reason: `update to revision ${revision} (start-first)` });
          actions.push(progress(ro, revision, now, `updating: ${waiting.length} of ${want} replicas left`));
        }
      }
    } else if (!pending.length && oldSlots.length) {
      if (now < nextBatchAt) wakes.push(nextBatchAt);
      else {
        const take = oldSlots.slice(0, Math.min(batch, oldSlots.length));
        for (const r of old.filter((x) => take.includes(x.slot))) remove(r, `update to revision ${revision}`);
        actions.push(progress(ro, revision, now, `updating: ${oldSlots.length} of ${want} replicas left`));
      }
    }
    const done = !old.length && fresh.length >= want && fresh.every((r) => available(r) || r.phase === 'completed');
    if (done) {
      const state: RolloutState = rollingBack ? 'rolled-back' : 'complete';
      actions.push({ kind: 'rollout', state, from: ro.from, to: revision, message: rollingBack ? `rolled back (revision ${ro.from} failed)` : `revision ${revision} is out` });
    }
  }

  // Fill every empty slot with the current revision (new service, scale up, a replica removed by hand, stop-first batches).
  const taken = new Set(inSlots.filter((r) => !removed.has(r.id)).map((r) => r.slot));
  for (let slot = 1; slot <= want; slot++) {
    if (!taken.has(slot) && !actions.some((a) => a.kind === 'create' && a.slot === slot)) actions.push({ kind: 'create', slot, revision, reason: fillReason(input, slot) });
  }
  // After a failed create, creates wait for their back-off (the rest of the plan goes ahead).
  const blockedUntil = input.createBlockedUntil ?? 0;
  if (now < blockedUntil && actions.some((a) => a.kind === 'create')) {
    wakes.push(blockedUntil);
    const rest = actions.filter((a) => a.kind !== 'create');
    actions.splice(0, actions.length, ...rest);
  }
  const future = wakes.filter((t) => t > now);
  return { actions, wakeAt: future.length ? Math.min(...future) : undefined };
}

function progress(ro: RolloutView, revision: number, now: number, message: string): Action {
  const state: RolloutState = ro.state === 'rolling-back' ? 'rolling-back' : 'progressing';
  return { kind: 'rollout', state, from: ro.from, to: revision, message, batchAt: now };
}

function failedInUpdate(r: ReplicaView, cfg: UpdateConfig, now: number): boolean {
  if (r.phase === 'failed' || r.phase === 'unhealthy' || r.phase === 'restarting') return true;
  return (r.phase === 'starting' || r.phase === 'created') && now - r.since > cfg.readyTimeoutMs;
}

function failureWhy(r: ReplicaView, cfg: UpdateConfig, now: number): string {
  if (r.phase === 'unhealthy') return 'failed its health check';
  if (r.phase === 'restarting' || r.phase === 'failed') return 'exited';
  return `did not become ready within ${Math.round(cfg.readyTimeoutMs / 1000)}s (${Math.round((now - r.since) / 1000)}s)`;
}

function fillReason(input: PlanInput, slot: number): string {
  if (!input.observed.length) return `replica ${slot} of ${input.replicas}`;
  if (input.observed.some((r) => r.slot === slot)) return `update to revision ${input.revision}`;
  const max = Math.max(0, ...input.observed.map((r) => r.slot));
  return slot > max ? `scaled to ${input.replicas}` : `replica ${slot} is missing (exited for good or removed): replaced`;
}
