import { describe, expect, it } from 'vitest';
import { parseGoDuration, parseRfc3339, parseTimeArg } from './timestamps.js';

const NOW = Date.UTC(2024, 0, 2, 12, 0, 0); // 2024-01-02T12:00:00Z
const ns = (ms: number) => BigInt(ms) * 1_000_000n;

describe('parseTimeArg (logs --since/--until)', () => {
  it('takes a Go duration as that long before now', () => {
    expect(parseTimeArg('10m', 'since', NOW)).toBe(ns(NOW - 600_000));
    expect(parseTimeArg('1h30m', 'since', NOW)).toBe(ns(NOW - 5_400_000));
    expect(parseTimeArg('1.5h', 'since', NOW)).toBe(ns(NOW - 5_400_000));
    expect(parseTimeArg('300ms', 'since', NOW)).toBe(ns(NOW - 300));
    expect(parseTimeArg('2h45m30.5s', 'since', NOW)).toBe(ns(NOW - (2 * 3600 + 45 * 60 + 30.5) * 1000));
    // A negative one is in the future, as in docker.
    expect(parseTimeArg('-5m', 'until', NOW)).toBe(ns(NOW + 300_000));
  });

  it('takes Unix seconds, with up to nine decimals; 0 is the epoch, not a duration', () => {
    expect(parseTimeArg('1700000000', 'since', NOW)).toBe(1_700_000_000_000_000_000n);
    expect(parseTimeArg('1700000000.000000001', 'since', NOW)).toBe(1_700_000_000_000_000_001n);
    expect(parseTimeArg('1700000000.5', 'since', NOW)).toBe(1_700_000_000_500_000_000n);
    expect(parseTimeArg('0', 'since', NOW)).toBe(0n);
  });

  it('takes RFC 3339 with nanoseconds and zones, and its shorter forms', () => {
    expect(parseTimeArg('2024-01-02T12:00:00Z', 'since', NOW)).toBe(ns(NOW));
    expect(parseTimeArg('2024-01-02T13:00:00.123456789+01:00', 'since', NOW)).toBe(ns(NOW) + 123_456_789n);
    expect(parseTimeArg('2024-01-02T11:00:00-01:00', 'since', NOW)).toBe(ns(NOW));
    // Without a zone: local time, as docker reads it.
    expect(parseTimeArg('2024-01-02T12:00', 'since', NOW)).toBe(ns(new Date(2024, 0, 2, 12, 0).getTime()));
    expect(parseTimeArg('2024-01-02', 'since', NOW)).toBe(ns(new Date(2024, 0, 2).getTime()));
  });

  it.each(['', 'yesterday', '10x', 'm', '2024-13-01', '2024-01-02T25:00', '2024-01-02 12:00', '1e9', '--5m', '12:00'])('refuses %j with a message that says what works', (v) => {
    expect(() => parseTimeArg(v, 'since', NOW)).toThrow(/invalid since .*RFC 3339.*Unix seconds.*10m/);
  });
});

describe('parseGoDuration', () => {
  it('sums the parts of a duration in nanoseconds', () => {
    expect(parseGoDuration('1h')).toBe(3_600_000_000_000n);
    expect(parseGoDuration('1us')).toBe(1_000n);
    expect(parseGoDuration('1µs')).toBe(1_000n);
    expect(parseGoDuration('.5s')).toBe(500_000_000n);
    expect(parseGoDuration('+1m1s')).toBe(61_000_000_000n);
  });
  it.each(['', '1', 'h', '1d', '1h 2m', '1.2.3s'])('is undefined for %j', (s) => expect(parseGoDuration(s)).toBeUndefined());
});

describe('parseRfc3339', () => {
  it('reads the timestamps conmon writes (local offset, nanoseconds)', () => {
    expect(parseRfc3339('2024-01-02T12:00:00.000000001+00:00')).toBe(ns(NOW) + 1n);
    expect(parseRfc3339('2024-01-02T14:00:00.5+02:00')).toBe(ns(NOW) + 500_000_000n);
  });
});
