import { describe, expect, it } from 'vitest';
import { bytesSize, humanDuration, humanSize } from './human.js';

describe("docker's human units (go-units)", () => {
  it('durations: seconds, About a minute, minutes, About an hour, hours up to 48, then days, weeks, months, years', () => {
    const s = 1000;
    const h = 3600 * s;
    expect([0, 999, s, 59 * s, 60 * s, 119 * s, 120 * s, 59 * 60 * s].map(humanDuration)).toEqual(['Less than a second', 'Less than a second', '1 second', '59 seconds', 'About a minute', 'About a minute', '2 minutes', '59 minutes']);
    expect([60 * 60 * s, 89 * 60 * s, 90 * 60 * s, 47 * h, 48 * h, 13 * 24 * h, 14 * 24 * h, 59 * 24 * h, 60 * 24 * h, 729 * 24 * h, 730 * 24 * h].map(humanDuration)).toEqual([
      'About an hour',
      'About an hour',
      '2 hours',
      '47 hours',
      '2 days',
      '13 days',
      '2 weeks',
      '8 weeks',
      '2 months',
      '24 months',
      '2 years',
    ]);
  });

  it('sizes: decimal with 3 significant digits (images), binary with 4 (stats)', () => {
    expect([0, 999, 1000, 1234, 4261550, 1e12].map((n) => humanSize(n))).toEqual(['0B', '999B', '1kB', '1.23kB', '4.26MB', '1TB']);
    expect(humanSize(4261550, 4)).toBe('4.262MB');
    expect([0, 1023, 1024, 1536, 209715, 67108864].map(bytesSize)).toEqual(['0B', '1023B', '1KiB', '1.5KiB', '204.8KiB', '64MiB']);
  });
});
