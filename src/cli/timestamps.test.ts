import { describe, expect, it } from 'vitest';
import { parseGoDuration, parseTimeFlag } from './timestamps.js';

describe("--since/--until, as docker's client reads them", () => {
  const now = Date.parse('2024-06-01T12:00:00Z');

  it('takes Go durations before now', () => {
    expect(parseTimeFlag('10m', '--since', now)).toBe(`${(now - 600_000) / 1000}.000`);
    expect(Number(parseTimeFlag('1h30m', '--since', now))).toBe((now - 5_400_000) / 1000);
    expect(Number(parseTimeFlag('1.5h', '--since', now))).toBe((now - 5_400_000) / 1000);
    expect(Number(parseTimeFlag('-10s', '--until', now))).toBe((now + 10_000) / 1000);
    expect(parseGoDuration('300ms')).toBe(300);
    expect(parseGoDuration('10')).toBeUndefined();
    expect(parseGoDuration('1x')).toBeUndefined();
  });

  it('takes RFC 3339 times, dates, and unix seconds as they are', () => {
    expect(Number(parseTimeFlag('2024-06-01T11:00:00Z', '--since', now))).toBe((now - 3_600_000) / 1000);
    expect(Number(parseTimeFlag('2024-06-01T13:00:00+02:00', '--since', now))).toBe((now - 3_600_000) / 1000);
    expect(Number(parseTimeFlag('2024-06-01T11:00:00.5Z', '--since', now))).toBe((now - 3_599_500) / 1000);
    expect(parseTimeFlag('1700000000', '--since', now)).toBe('1700000000');
    expect(parseTimeFlag('1700000000.25', '--since', now)).toBe('1700000000.25');
    expect(parseTimeFlag('0', '--since', now)).toBe('0');
    expect(Number(parseTimeFlag('2024-06-01', '--since', now))).toBe(new Date(2024, 5, 1).getTime() / 1000);
  });

  it('refuses the rest, naming the flag', () => {
    expect(() => parseTimeFlag('yesterday', '--since', now)).toThrow('invalid --since "yesterday"');
    expect(() => parseTimeFlag('2024-13-45T99', '--until', now)).toThrow('invalid --until');
  });
});
