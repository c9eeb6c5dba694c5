import { describe, expect, it } from 'vitest';
import { socketPathFromHost } from './config.js';

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
