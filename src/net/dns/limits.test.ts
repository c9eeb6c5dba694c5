import { describe, expect, it } from 'vitest';
import { Counts, RateWindow } from './limits.js';

describe('RateWindow', () => {
  it('lets each client so many queries a second, and the server so many in all', () => {
    let now = 10_000;
    const w = new RateWindow(3, 5, () => now);
    expect([1, 2, 3, 4].map(() => w.take('a'))).toEqual([true, true, true, false]);
    expect([1, 2, 3].map(() => w.take('b'))).toEqual([true, true, false]); // 5 in all
    now += 1000;
    expect(w.take('a')).toBe(true);
  });
});

describe('Counts', () => {
  it('forgets a key back at zero', () => {
    const c = new Counts();
    c.add('a', 2);
    c.add('a', -2);
    expect(c.get('a')).toBe(0);
    expect((c as unknown as { m: Map<string, number> }).m.size).toBe(0);
  });
});
