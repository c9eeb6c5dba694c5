import { describe, expect, it } from 'vitest';
import { newState, type Instance } from '../../core/instance.js';
import { restartDecision } from './restarts.js';

const inst = (policy: Instance['config']['restartPolicy'], state: Partial<Instance['state']> = {}): Instance =>
  ({ id: 'x', name: 'x', type: 'container', createdAt: '', config: { restartPolicy: policy, autoRemove: false }, state: { ...newState(), status: 'exited', ...state } }) as unknown as Instance;
const ran = (ms: number) => ({ startedAt: new Date(0).toISOString(), finishedAt: new Date(ms).toISOString() });

describe('restart policies and their back-off', () => {
  it('follows docker: always, unless-stopped, on-failure with retries; never after a user stop or with --rm', () => {
    expect(restartDecision(inst({ name: 'no' })).restart).toBe(false);
    expect(restartDecision(inst({ name: 'always' }, { stoppedByUser: true })).restart).toBe(false);
    expect(restartDecision(inst({ name: 'on-failure' }, { exitCode: 0 })).restart).toBe(false);
    expect(restartDecision(inst({ name: 'on-failure', maxRetries: 2 }, { exitCode: 1, restartCount: 2 })).restart).toBe(false);
    expect(restartDecision(inst({ name: 'on-failure', maxRetries: 2 }, { exitCode: 1, restartCount: 1 })).restart).toBe(true);
  });

  it("doubles from docker's 100 ms to its cap, and starts over after a long enough run", () => {
    const p = { name: 'always' as const };
    expect(restartDecision(inst(p, { ...ran(50), restartStreak: 0 }))).toEqual({ restart: true, delayMs: 100, streak: 1 });
    expect(restartDecision(inst(p, { ...ran(50), restartStreak: 3 }))).toEqual({ restart: true, delayMs: 800, streak: 4 });
    expect(restartDecision(inst(p, { ...ran(50), restartStreak: 40 })).restart && restartDecision(inst(p, { ...ran(50), restartStreak: 40 }))).toMatchObject({ delayMs: 60_000 });
    expect(restartDecision(inst(p, { ...ran(10_000), restartStreak: 9 }))).toEqual({ restart: true, delayMs: 100, streak: 1 });
  });

  it("a service's: 1 s doubling to 30 s, reset after 10 minutes; a zero delay restarts at once, then backs off", () => {
    const svc = { name: 'always' as const, delayMs: 1000, maxDelayMs: 30_000, windowMs: 600_000 };
    expect(restartDecision(inst(svc, { ...ran(5000), restartStreak: 0 }))).toMatchObject({ delayMs: 1000, streak: 1 });
    expect(restartDecision(inst(svc, { ...ran(5000), restartStreak: 1 }))).toMatchObject({ delayMs: 2000, streak: 2 });
    expect(restartDecision(inst(svc, { ...ran(5000), restartStreak: 10 }))).toMatchObject({ delayMs: 30_000 });
    expect(restartDecision(inst(svc, { ...ran(600_000), restartStreak: 10 }))).toMatchObject({ delayMs: 1000, streak: 1 });
    const now = { ...svc, delayMs: 0 };
    expect(restartDecision(inst(now, { ...ran(5000), restartStreak: 0 }))).toMatchObject({ delayMs: 0, streak: 1 });
    expect(restartDecision(inst(now, { ...ran(5000), restartStreak: 1 }))).toMatchObject({ delayMs: 2000, streak: 2 });
  });
});
