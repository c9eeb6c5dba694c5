import { describe, expect, it } from 'vitest';
import { resolveConfig, socketPathFromHost } from './config.js';

describe('socketPathFromHost', () => {
  it('takes unix:// URLs and bare absolute paths', () => {
    expect(socketPathFromHost('unix:///run/hull/hull.sock')).toBe('/run/hull/hull.sock');
    expect(socketPathFromHost('/tmp/h.sock')).toBe('/tmp/h.sock');
  });

  it('refuses what it cannot listen on, saying what it takes', () => {
    for (const bad of ['unix://', 'unix://relative.sock', 'tcp://0.0.0.0:2375', 'fd://', 'hull.sock']) {
      expect(() => socketPathFromHost(bad), bad).toThrow(/use unix:\/\/\/path\/to\/hull.sock/);
    }
  });
});

describe('--docker-socket', () => {
  it('is off unless given; a unix:// URL or a path; never Hull’s own socket', () => {
    expect(resolveConfig({ host: 'unix:///tmp/h.sock', root: '/tmp/hr' }).dockerSocket).toBeUndefined();
    expect(resolveConfig({ host: 'unix:///tmp/h.sock', root: '/tmp/hr', dockerSocket: 'unix:///tmp/d.sock' }).dockerSocket).toBe('/tmp/d.sock');
    expect(() => resolveConfig({ host: 'unix:///tmp/h.sock', root: '/tmp/hr', dockerSocket: '/tmp/h.sock' })).toThrow(/Hull's own API socket/);
    expect(() => resolveConfig({ host: 'unix:///tmp/h.sock', root: '/tmp/hr', dockerSocket: 'tcp://0.0.0.0:2375' })).toThrow(/unsupported host/);
  });
});
