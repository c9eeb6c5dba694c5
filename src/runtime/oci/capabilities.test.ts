import { describe, expect, it } from 'vitest';
import { isHullError } from '../../core/errors.js';
import { boundingSet } from '../host.js';
import { ALL_CAPABILITIES, normalizeCapability, resolveCapabilities } from './capabilities.js';
import { DEFAULT_CAPABILITIES } from './defaults.js';

describe('normalizeCapability', () => {
  it('takes any case, with or without CAP_, and ALL', () => {
    expect(normalizeCapability('net_raw', '--cap-add')).toBe('CAP_NET_RAW');
    expect(normalizeCapability('CAP_SYS_ADMIN', '--cap-add')).toBe('CAP_SYS_ADMIN');
    expect(normalizeCapability('cap_mknod', '--cap-add')).toBe('CAP_MKNOD');
    expect(normalizeCapability('all', '--cap-drop')).toBe('ALL');
  });

  it('refuses an unknown name, saying which flag', () => {
    expect(() => normalizeCapability('FLY', '--cap-add')).toThrow('invalid --cap-add: unknown capability "FLY"');
    expect(() => normalizeCapability('', '--cap-drop')).toThrow(/--cap-drop/);
  });
});

describe('resolveCapabilities (docker TweakCapabilities)', () => {
  it('is the defaults when nothing is asked', () => {
    expect(resolveCapabilities({})).toEqual([...DEFAULT_CAPABILITIES]);
  });

  it('drops, then adds', () => {
    const caps = resolveCapabilities({ capAdd: ['NET_RAW'], capDrop: ['chown'] });
    expect(caps).toContain('CAP_NET_RAW');
    expect(caps).not.toContain('CAP_CHOWN');
    expect(caps).toHaveLength(DEFAULT_CAPABILITIES.length);
  });

  it('--cap-add ALL is every capability but the dropped; --cap-drop ALL leaves only the added', () => {
    const all = resolveCapabilities({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'] });
    expect(all).toHaveLength(ALL_CAPABILITIES.length - 1);
    expect(all).not.toContain('CAP_SYS_ADMIN');
    expect(resolveCapabilities({ capDrop: ['ALL'], capAdd: ['kill'] })).toEqual(['CAP_KILL']);
    expect(resolveCapabilities({ capDrop: ['ALL'] })).toEqual([]);
  });

  it('gives privileged every capability the daemon holds', () => {
    const held = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
    expect(resolveCapabilities({ privileged: true, capDrop: ['ALL'] }, held)).toEqual(held);
    expect(resolveCapabilities({ capAdd: ['ALL'] }, held)).not.toContain('CAP_SYS_RESOURCE');
  });

  it('refuses to add, by name, a capability the daemon does not hold', () => {
    const held = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
    try {
      resolveCapabilities({ capAdd: ['sys_resource'] }, held);
      expect.unreachable();
    } catch (e) {
      expect(isHullError(e, 'unavailable')).toBe(true);
      expect((e as Error).message).toMatch(/cannot add CAP_SYS_RESOURCE/);
    }
  });
});

describe('boundingSet', () => {
  it("reads the daemon's bounding set from /proc/self/status", () => {
    expect(boundingSet('Name:\tx\nCapBnd:\t00000000800405fb\n')).toEqual([...DEFAULT_CAPABILITIES].sort((a, b) => ALL_CAPABILITIES.indexOf(a) - ALL_CAPABILITIES.indexOf(b)));
    expect(boundingSet('CapBnd:\t000001fffeffffff\n')).toEqual(ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE'));
    expect(boundingSet('nothing')).toBeUndefined();
  });
});
