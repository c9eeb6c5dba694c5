import { describe, expect, it } from 'vitest';
import type { UpdateConfig } from '../../core/service.js';
import { plan, type Phase, type PlanInput, type ReplicaView } from './plan.js';

const cfg = (o: Partial<UpdateConfig> = {}): UpdateConfig => ({ parallelism: 1, delayMs: 0, failureAction: 'rollback', monitorMs: 5000, maxFailureRatio: 0, order: 'stop-first', readyTimeoutMs: 60_000, ...o });
const NOW = 1_000_000;
const rep = (slot: number, revision: number, phase: Phase = 'ready', since = NOW - 60_000): ReplicaView => ({ id: `id-${slot}-${revision}-${phase}`, name: `web.${slot}`, slot, revision, phase, since, createdAt: since });
const input = (o: Partial<PlanInput>): PlanInput => ({
  revision: 1,
  replicas: 3,
  update: cfg(),
  rollback: cfg({ failureAction: 'pause' }),
  rollout: { state: 'complete', from: 0, to: 1, lastBatchAt: 0 },
  observed: [],
  createErrors: [],
  now: NOW,
  ...o,
});
const kinds = (p: ReturnType<typeof plan>) => p.actions.map((a) => (a.kind === 'create' ? `create ${a.slot}@${a.revision}` : a.kind === 'remove' || a.kind === 'restart' ? `${a.kind} ${a.name}` : a.kind === 'rollback' ? `rollback ${a.to}` : `rollout ${a.state}`));

describe('service plan: replicas and slots', () => {
  it('creates every slot of a new service', () => {
    expect(kinds(plan(input({ rollout: { state: 'progressing', from: 0, to: 1, lastBatchAt: 0 } })))).toEqual(['create 1@1', 'create 2@1', 'create 3@1']);
  });

  it('does nothing when every replica is ready', () => {
    expect(plan(input({ observed: [rep(1, 1), rep(2, 1), rep(3, 1)] })).actions).toEqual([]);
  });

  it('scales up and down by slots, highest slot first', () => {
    expect(kinds(plan(input({ replicas: 5, observed: [rep(1, 1), rep(2, 1), rep(3, 1)] })))).toEqual(['create 4@1', 'create 5@1']);
    expect(kinds(plan(input({ replicas: 1, observed: [rep(1, 1), rep(2, 1), rep(3, 1)] })))).toEqual(['remove web.3', 'remove web.2']);
  });

  it('replaces a replica removed by hand, and keeps one of two in a slot', () => {
    const p = plan(input({ observed: [rep(1, 1), rep(3, 1)] }));
    expect(kinds(p)).toEqual(['create 2@1']);
    expect(p.actions[0]).toMatchObject({ reason: expect.stringContaining('replaced') });
    expect(kinds(plan(input({ observed: [rep(1, 1), rep(2, 1), rep(2, 1, 'starting', NOW - 10), rep(3, 1)] })))).toEqual(['remove web.2']);
  });

  it('leaves restarts of exited replicas to the restart policy, and restarts an unhealthy one', () => {
    expect(plan(input({ observed: [rep(1, 1, 'restarting'), rep(2, 1, 'completed'), rep(3, 1, 'failed')] })).actions).toEqual([]);
    expect(kinds(plan(input({ observed: [rep(1, 1), rep(2, 1, 'unhealthy'), rep(3, 1)] })))).toEqual(['restart web.2']);
  });

  it('holds creates while a failed create backs off, and says when to look again', () => {
    const p = plan(input({ observed: [rep(1, 1)], createBlockedUntil: NOW + 4000 }));
    expect(p.actions).toEqual([]);
    expect(p.wakeAt).toBe(NOW + 4000);
  });
});

describe('service plan: rolling updates', () => {
  const rolling = (o: Partial<PlanInput>) => input({ revision: 2, rollout: { state: 'progressing', from: 1, to: 2, lastBatchAt: 0 }, ...o });

  it('stop-first: one slot at a time, each new replica ready and monitored before the next', () => {
    const olds = [rep(1, 1), rep(2, 1), rep(3, 1)];
    expect(kinds(plan(rolling({ observed: olds })))).toEqual(['remove web.1', 'rollout progressing', 'create 1@2']);
    // The new one is starting: wait (until its ready timeout at the latest).
    const starting = plan(rolling({ observed: [rep(1, 2, 'starting', NOW - 1000), rep(2, 1), rep(3, 1)] }));
    expect(starting.actions).toEqual([]);
    expect(starting.wakeAt).toBe(NOW - 1000 + 60_000);
    // Ready but still in its monitor window: wait for the window's end.
    const monitoring = plan(rolling({ observed: [rep(1, 2, 'ready', NOW - 1000), rep(2, 1), rep(3, 1)] }));
    expect(monitoring.actions).toEqual([]);
    expect(monitoring.wakeAt).toBe(NOW + 4000);
    expect(kinds(plan(rolling({ observed: [rep(1, 2), rep(2, 1), rep(3, 1)] })))).toEqual(['remove web.2', 'rollout progressing', 'create 2@2']);
    expect(kinds(plan(rolling({ observed: [rep(1, 2), rep(2, 2), rep(3, 2)] })))).toEqual(['rollout complete']);
  });

  it('waits `delay` between batches and takes `parallelism` at once', () => {
    const p = plan(rolling({ update: cfg({ parallelism: 2, delayMs: 10_000 }), rollout: { state: 'progressing', from: 1, to: 2, lastBatchAt: NOW - 3000 }, observed: [rep(1, 1), rep(2, 1), rep(3, 1)] }));
    expect(p.actions).toEqual([]);
    expect(p.wakeAt).toBe(NOW + 7000);
    expect(kinds(plan(rolling({ update: cfg({ parallelism: 2 }), observed: [rep(1, 1), rep(2, 1), rep(3, 1)] })))).toEqual(['remove web.1', 'remove web.2', 'rollout progressing', 'create 1@2', 'create 2@2']);
  });

  it('start-first: the new replica first, the old one goes once the new one is available', () => {
    const sf = cfg({ order: 'start-first' });
    expect(kinds(plan(rolling({ update: sf, observed: [rep(1, 1), rep(2, 1), rep(3, 1)] })))).toEqual(['create 1@2', 'rollout progressing']);
    expect(plan(rolling({ update: sf, observed: [rep(1, 1), rep(1, 2, 'starting', NOW - 100), rep(2, 1), rep(3, 1)] })).actions).toEqual([]);
    expect(kinds(plan(rolling({ update: sf, observed: [rep(1, 1), rep(1, 2), rep(2, 1), rep(3, 1)] })))).toEqual(['remove web.1', 'create 2@2', 'rollout progressing']);
  });

  it('rolls back by itself when a new replica never becomes ready', () => {
    const p = plan(rolling({ observed: [rep(1, 2, 'starting', NOW - 61_000), rep(2, 1), rep(3, 1)] }));
    expect(p.actions).toEqual([{ kind: 'rollback', to: 1, reason: 'web.1 did not become ready within 60s (61s)' }]);
  });

  it('rolls back when a new replica exits or fails its health check, or cannot be created', () => {
    expect(kinds(plan(rolling({ observed: [rep(1, 2, 'restarting', NOW - 100), rep(2, 1), rep(3, 1)] })))).toEqual(['rollback 1']);
    expect(kinds(plan(rolling({ observed: [rep(1, 2, 'unhealthy', NOW - 100), rep(2, 1), rep(3, 1)] })))).toEqual(['rollback 1']);
    const noImage = plan(rolling({ observed: [rep(2, 1), rep(3, 1)], createErrors: [{ slot: 1, message: 'image "nope" not found' }] }));
    expect(noImage.actions).toEqual([{ kind: 'rollback', to: 1, reason: 'replica 1 could not be created: image "nope" not found' }]);
  });

  it('follows failure_action and max_failure_ratio', () => {
    const failing = [rep(1, 2, 'restarting', NOW - 100), rep(2, 2), rep(3, 1)];
    expect(kinds(plan(rolling({ update: cfg({ failureAction: 'pause' }), observed: failing })))).toEqual(['rollout paused']);
    expect(kinds(plan(rolling({ update: cfg({ failureAction: 'continue' }), observed: failing })))).not.toContain('rollback 1');
    expect(kinds(plan(rolling({ update: cfg({ maxFailureRatio: 0.5 }), observed: failing })))).not.toContain('rollback 1');
  });

  it('rolls back with rollback_config and pauses if that fails too', () => {
    const back = { state: 'rolling-back' as const, from: 2, to: 1, lastBatchAt: 0 };
    expect(kinds(plan(input({ revision: 1, rollout: back, observed: [rep(1, 2), rep(2, 2), rep(3, 2)] })))).toEqual(['remove web.1', 'rollout rolling-back', 'create 1@1']);
    expect(kinds(plan(input({ revision: 1, rollout: back, observed: [rep(1, 1, 'restarting'), rep(2, 2), rep(3, 2)] })))).toEqual(['rollout paused']);
    expect(kinds(plan(input({ revision: 1, rollout: back, observed: [rep(1, 1), rep(2, 1), rep(3, 1)] })))).toEqual(['rollout rolled-back']);
  });

  it('a paused update still keeps every slot filled', () => {
    const paused = { state: 'paused' as const, from: 1, to: 2, lastBatchAt: 0 };
    expect(kinds(plan(input({ revision: 2, rollout: paused, observed: [rep(1, 2, 'restarting'), rep(3, 1)] })))).toEqual(['create 2@2']);
  });

  it('a first deploy that fails says why and keeps trying: nothing to roll back to', () => {
    const first = { state: 'progressing' as const, from: 0, to: 1, lastBatchAt: 0 };
    const p = plan(input({ rollout: first, observed: [], createErrors: [{ slot: 1, message: 'image "nope" not found' }], createBlockedUntil: NOW + 2000 }));
    expect(p.actions).toEqual([{ kind: 'rollout', state: 'progressing', from: 0, to: 1, message: 'not ready: replica 1 could not be created: image "nope" not found' }]);
    expect(p.wakeAt).toBe(NOW + 2000);
  });

  it('finishes a rollout whose last batch is available, and scales down during one', () => {
    expect(kinds(plan(rolling({ replicas: 2, observed: [rep(1, 2), rep(2, 2), rep(3, 1)] })))).toEqual(['remove web.3', 'rollout complete']);
  });
});
