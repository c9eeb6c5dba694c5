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

describe('--store', () => {
  const cfg = (store?: string) => resolveConfig({ host: 'unix:///tmp/h.sock', root: '/tmp/hr', store }).store;

  it('is SQLite in <root>/hull.db by default and with `sqlite`', () => {
    expect(cfg()).toEqual({ kind: 'sqlite', path: '/tmp/hr/hull.db' });
    expect(cfg('sqlite')).toEqual({ kind: 'sqlite', path: '/tmp/hr/hull.db' });
  });

  it('takes etcd://HOST:PORT[,HOST:PORT...][/PREFIX], prefix /hull by default', () => {
    expect(cfg('etcd://127.0.0.1:2379')).toEqual({ kind: 'etcd', endpoints: ['http://127.0.0.1:2379'], prefix: '/hull' });
    expect(cfg('etcd://a.example:2379,b-2:02380,[::1]:2379/hull/prod_1.x')).toEqual({
      kind: 'etcd',
      endpoints: ['http://a.example:2379', 'http://b-2:2380', 'http://[::1]:2379'],
      prefix: '/hull/prod_1.x',
    });
  });

  it('reads HULL_STORE when no flag is given', () => {
    const before = process.env.HULL_STORE;
    process.env.HULL_STORE = 'etcd://h:1/p';
    try {
      expect(cfg()).toEqual({ kind: 'etcd', endpoints: ['http://h:1'], prefix: '/p' });
      expect(cfg('sqlite').kind).toBe('sqlite');
    } finally {
      if (before === undefined) delete process.env.HULL_STORE;
      else process.env.HULL_STORE = before;
    }
  });

  it('refuses anything else, saying what it takes', () => {
    const bad = [
      'etcd', 'sqlite:///x.db', 'mysql', 'http://127.0.0.1:2379', 'etcds://h:2379', 'ETCD://h:1', 'etcd://', 'etcd:///hull',
      'etcd://h', 'etcd://h:', 'etcd://h:0', 'etcd://h:65536', 'etcd://h:123456', 'etcd://h:x', 'etcd://user:pw@h:1', 'etcd://h:1,', 'etcd://,h:1',
      'etcd://h:1,h:1', 'etcd://h_1:1', 'etcd://h:1/', 'etcd://h:1/a/', 'etcd://h:1//a', 'etcd://h:1/a b', 'etcd://h:1?x=1', 'etcd://h:1/a?x', 'etcd://h:1#f',
      'etcd://-h:1', 'etcd://h:1/a/../b'.replace('..', 'a*'),
    ];
    for (const b of bad) expect(() => cfg(b), b).toThrow(/--store .*: .*use sqlite, or etcd:\/\/HOST:PORT/);
  });
});

describe('--dashboard', () => {
  const cfg = (dashboard?: string) => resolveConfig({ host: 'unix:///tmp/h.sock', root: '/tmp/hr', dashboard }).dashboard;

  it('is on loopback port 7700 unless told; HOST:PORT, [v6]:PORT, :PORT (loopback) or off', () => {
    const before = process.env.HULL_DASHBOARD;
    delete process.env.HULL_DASHBOARD;
    try {
      expect(cfg()).toEqual({ host: '127.0.0.1', port: 7700 });
    } finally {
      if (before !== undefined) process.env.HULL_DASHBOARD = before;
    }
    expect(cfg('0.0.0.0:8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(cfg('[::1]:7701')).toEqual({ host: '::1', port: 7701 });
    expect(cfg(':7702')).toEqual({ host: '127.0.0.1', port: 7702 });
    expect(cfg('off')).toBeUndefined();
  });

  it('refuses what is no address, saying what it takes', () => {
    for (const bad of ['7700', 'localhost', '1.2.3.4:99999', 'a:b', 'http://x:1']) expect(() => cfg(bad), bad).toThrow(/HOST:PORT/);
  });
});
