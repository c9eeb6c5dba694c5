import { describe, expect, it } from 'vitest';
import { DEFAULT_LOG_CONFIG, parseLogOpts, withLogDefaults } from './log-config.js';

describe('--log-opt', () => {
  it("takes docker's max-size (binary units) and max-file", () => {
    expect(parseLogOpts(['max-size=10m', 'max-file=3'])).toEqual({ maxSize: 10 * 1024 * 1024, maxFile: 3 });
    expect(parseLogOpts(['max-size=64k'])).toEqual({ maxSize: 65536 });
    expect(parseLogOpts(['compress=false'])).toEqual({});
    expect(parseLogOpts([])).toEqual({});
  });

  it.each([
    ['max-size=1k', /too small: the minimum is 16k/],
    ['max-size=ten', /invalid size/],
    ['max-file=0', /from 1 to 1000/],
    ['max-file=1.5', /from 1 to 1000/],
    ['max-file=1001', /from 1 to 1000/],
    ['compress=true', /not supported: rotated log files are kept uncompressed/],
    ['mode=non-blocking', /unknown --log-opt "mode=non-blocking"/],
    ['max-size', /invalid size ""/],
  ])('refuses %s', (opt, msg) => expect(() => parseLogOpts([opt])).toThrow(msg));

  it("fills what a create leaves out from the daemon's default (docker's local driver: 20m x 5)", () => {
    expect(DEFAULT_LOG_CONFIG).toEqual({ type: 'k8s-file', maxSize: 20 * 1024 * 1024, maxFile: 5 });
    expect(withLogDefaults({ maxFile: 2 }, { type: 'k8s-file', maxSize: 1 << 20, maxFile: 9 })).toEqual({ type: 'k8s-file', maxSize: 1 << 20, maxFile: 2 });
    expect(withLogDefaults(undefined)).toEqual(DEFAULT_LOG_CONFIG);
  });
});
