import { describe, expect, it } from 'vitest';
import { decideScale, type ScaleInput } from './autoscale.js';

const policy = { min: 1, max: 10, targetCpuPercent: 50, scaleDownWindowMs: 300_000 };
const input = (o: Partial<ScaleInput>): ScaleInput => ({ current: 2, usage: [50, 50], policy, history: [], now: 1_000_000, ...o });

describe('autoscaling, with Kubernetes’ rule', () => {
  it('scales up at once: ceil(current × used / target), with the figures', () => {
    expect(decideScale(input({ usage: [90, 110] }))).toEqual({ replicas: 4, recommended: 4, reason: 'cpu 100% of a 50% target over 2 replicas: 2 → 4' });
  });

  it('does nothing within the 10% tolerance', () => {
    expect(decideScale(input({ usage: [54, 54] })).replicas).toBe(2);
    expect(decideScale(input({ usage: [56, 56] })).replicas).toBe(3);
  });

  it('clamps to min and max', () => {
    expect(decideScale(input({ usage: [500, 500] })).replicas).toBe(10);
    expect(decideScale(input({ current: 3, usage: [1, 1, 1], history: [] })).replicas).toBe(1);
  });

  it('scales down only to the highest recommendation of the stabilization window', () => {
    const history = [
      { at: 1_000_000 - 200_000, replicas: 4 },
      { at: 1_000_000 - 400_000, replicas: 6 },
    ];
    const d = decideScale(input({ current: 5, usage: [5, 5, 5, 5, 5], history }));
    expect(d.replicas).toBe(4);
    expect(d.recommended).toBe(1);
    expect(d.reason).toMatch(/5 → 4 \(lowest in the 300s window\)/);
    expect(decideScale(input({ current: 4, usage: [5, 5, 5, 5], history })).replicas).toBe(4);
  });

  it('measures nothing without ready replicas', () => {
    expect(decideScale(input({ usage: [] }))).toMatchObject({ replicas: 2, reason: 'no ready replica to measure' });
  });
});
