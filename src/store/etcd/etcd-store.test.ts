import { Etcd3 } from 'etcd3';
import { readdir, readFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../core/poll.js';
import { isHullError, type HullError } from '../../core/errors.js';
import { haveEtcd, startEtcd, startEtcdCluster, type TestEtcd } from '../../../test/helpers/etcd.js';
import type { Change, WriteOp } from '../store.js';
import { storeSuite } from '../store-suite.js';
import { EtcdStore } from './etcd-store.js';

/**
 * EtcdStore against a real etcd (Debian's etcd-server, started here on free
 * loopback ports with its own data dir): the whole conformance suite, each
 * case on a fresh prefix, then what only etcd shows: several clients of one
 * etcd (the cluster case) and an etcd that stops answering.
 */
const skipReason = haveEtcd ? undefined : '/usr/bin/etcd is missing (Debian etcd-server; scripts/setup.sh installs it with HULL_SETUP_TEST=1)';

let etcd: TestEtcd | undefined;
let seq = 0;
const freshPrefix = () => `/hull-test/${process.pid}/${++seq}`;
const open = (prefix: string, timeoutMs = 5000) => new EtcdStore({ endpoints: [etcd!.endpoint], prefix, timeoutMs });

async function failure(p: Promise<unknown>): Promise<HullError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isHullError(e)) throw new Error(`expected a HullError, got ${e === undefined ? 'success' : String(e)}`);
  return e;
}

/** A TCP relay to etcd that can cut every connection and refuse new ones until restored (a network partition). */
async function tcpProxy(target: URL) {
  const conns = new Set<Socket>();
  const server = createServer((c) => {
    const up = connect(Number(target.port), target.hostname);
    for (const x of [c, up]) {
      conns.add(x);
      x.on('error', () => undefined);
      x.on('close', () => (conns.delete(x), c.destroy(), up.destroy()));
    }
    c.pipe(up).pipe(c);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut: async () => {
      await new Promise<void>((r) => {
        server.close(() => r());
        for (const x of conns) x.destroy();
      });
    },
    restore: () => server.listen(port, '127.0.0.1'),
    close: async () => {
      for (const x of conns) x.destroy();
      if (server.listening) await new Promise((r) => server.close(r));
    },
  };
}

/** Every thread of the process is stopped (SIGSTOP takes effect per thread). */
async function allStopped(pid: number): Promise<boolean> {
  const tasks = await readdir(`/proc/${pid}/task`);
  const states = await Promise.all(tasks.map(async (t) => (await readFile(`/proc/${pid}/task/${t}/stat`, 'utf8')).replace(/^.*\) /s, '')[0]));
  return states.every((st) => st === 'T');
}

describe.skipIf(!!skipReason)(`EtcdStore on a real etcd${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    etcd = await startEtcd();
    console.log(`etcd ready in ${etcd.startMs} ms`);
  }, 20_000);
  afterAll(async () => {
    await etcd?.stop();
  });

  storeSuite('etcd', async () => {
    const prefix = freshPrefix();
    let store = open(prefix);
    return {
      get store() {
        return store;
      },
      reopen: async () => {
        await store.close();
        return (store = open(prefix));
      },
      cleanup: async () => {
        await store.close();
        const admin = new Etcd3({ hosts: etcd!.endpoint });
        await admin.delete().prefix(`${prefix}/`);
        admin.close();
      },
    };
  });

  describe('several clients of one etcd', () => {
    it('hears the other client\'s writes through watch, each once, readable when heard', async () => {
      const prefix = freshPrefix();
      const [a, b] = [open(prefix), open(prefix)];
      const heard: string[] = [];
      const readable: Array<Promise<string>> = [];
      const stop = b.watch((c: Change) => {
        if (c.op === 'resync') return void heard.push('resync');
        heard.push(`${c.op} ${c.kind} ${c.id}`);
        readable.push(b.get(c.kind, c.id).then((d) => `${c.op} ${d === undefined ? 'absent' : 'present'}`));
      });
      await b.list('instance'); // any call: the watch is set up on the first write, this one is a read
      await b.create('meta', 'ready', null, {}); // b's own write returns once b's watcher delivered it
      await a.create('instance', 'i1', 'web', { n: 1 });
      await a.update<{ n: number }>('instance', 'i1', (d) => ({ n: d.n + 1 }));
      await a.batch([
        { op: 'put', kind: 'instance', id: 'i2', name: 'db', doc: { n: 1 } },
        { op: 'delete', kind: 'instance', id: 'i1' },
      ]);
      await a.delete('instance', 'i2');
      const want = ['put meta ready', 'put instance i1', 'put instance i1', 'put instance i2', 'delete instance i1', 'delete instance i2'];
      const end = Date.now() + 5000;
      while (heard.length < want.length && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 50)); // nothing more comes
      stop();
      expect(heard).toEqual(want);
      expect((await Promise.all(readable)).slice(1)).toEqual(['put present', 'put present', 'put present', 'delete absent', 'delete absent']);
      expect(await b.getByName('instance', 'db')).toBeUndefined();
      await Promise.all([a.close(), b.close()]);
    });

    it('loses no update when two clients update one document at once', async () => {
      const prefix = freshPrefix();
      const [a, b] = [open(prefix), open(prefix)];
      await a.create('meta', 'counter', null, { n: 0, by: { a: 0, b: 0 } });
      type C = { n: number; by: { a: number; b: number } };
      const bump = (s: EtcdStore, who: 'a' | 'b') => s.update<C>('meta', 'counter', (d) => ({ n: d.n + 1, by: { ...d.by, [who]: d.by[who] + 1 } }));
      await Promise.all([...Array.from({ length: 50 }, () => bump(a, 'a')), ...Array.from({ length: 50 }, () => bump(b, 'b'))]);
      expect(await b.get('meta', 'counter')).toEqual({ n: 100, by: { a: 50, b: 50 } });
      await Promise.all([a.close(), b.close()]);
    });

    it('gives a name to exactly one of two clients creating it at once', async () => {
      const prefix = freshPrefix();
      const [a, b] = [open(prefix), open(prefix)];
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).create('instance', `i${i}`, 'web', { i })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect((r.reason as HullError).code).toBe('conflict');
      expect(await a.list('instance')).toHaveLength(1);
      await Promise.all([a.close(), b.close()]);
    });
  });

  it('on a cluster of three members, one killed changes nothing a caller sees; with two killed, calls fail promptly', async () => {
    const c = await startEtcdCluster(3);
    const s = new EtcdStore({ endpoints: c.endpoints, prefix: freshPrefix(), timeoutMs: 1500 });
    const heard: string[] = [];
    const stop = s.watch((ch) => ch.op !== 'resync' && heard.push(ch.id));
    try {
      for (let i = 0; i < 5; i++) await s.create('meta', `a${i}`, null, { n: 0 });
      await c.members[0].stop();
      const failures: string[] = [];
      for (let i = 0; i < 40; i++) {
        // Before: a third of the calls went to the dead member and failed (no connection established).
        await s.update<{ n: number }>('meta', `a${i % 5}`, (d) => ({ n: d.n + 1 })).catch((e: Error) => failures.push(e.message));
        await s.list('meta').catch((e: Error) => failures.push(e.message));
      }
      expect(failures).toEqual([]);
      expect((await s.list<{ n: number }>('meta')).map((d) => d.n)).toEqual([8, 8, 8, 8, 8]);
      await s.create('meta', 'after', null, {});
      expect(heard).toContain('after');
      await c.members[1].stop();
      const t0 = Date.now();
      const e = await failure(s.update('meta', 'a0', (d) => d));
      expect(e.code).toBe('unavailable');
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      stop();
      await s.close();
      await c.stop();
    }
  }, 60_000);

  it('refuses a batch larger than one etcd transaction, applying nothing; takes one of exactly 128', async () => {
    const s = open(freshPrefix());
    const ops = (n: number): WriteOp[] => Array.from({ length: n }, (_, i) => ({ op: 'put', kind: 'tag', id: `t${i}`, doc: { i } }));
    const e = await failure(s.batch(ops(129)));
    expect(e.code).toBe('invalid');
    expect(e.message).toMatch(/129 operations, etcd allows 128/);
    expect(await s.list('tag')).toEqual([]);
    await s.batch(ops(128));
    expect(await s.list('tag')).toHaveLength(128);
    // named: 64 documents are 128 keys, 65 are too many
    const named = (n: number): WriteOp[] => Array.from({ length: n }, (_, i) => ({ op: 'put', kind: 'image', id: `m${i}`, name: `n${i}`, doc: { i } }));
    expect((await failure(s.batch(named(65)))).code).toBe('invalid');
    await s.batch(named(64));
    expect(await s.getByName('image', 'n63')).toEqual({ i: 63 });
    await s.close();
  });

  it('lists more documents than one page, in creation order', async () => {
    const s = open(freshPrefix());
    const ids = Array.from({ length: 1100 }, (_, i) => `x${(i * 7919) % 1100}`);
    for (let i = 0; i < ids.length; i += 128) {
      await s.batch(ids.slice(i, i + 128).map((id): WriteOp => ({ op: 'put', kind: 'volume', id, doc: { id } })));
    }
    const got = await s.list<{ id: string }>('volume');
    expect(got.map((d) => d.id)).toEqual(ids);
    await s.close();
  });

  describe('an etcd that does not answer', () => {
    it('fails each call promptly with unavailable, naming the endpoint, when etcd is stopped', async () => {
      const s = open(freshPrefix(), 500);
      await s.create('meta', 'm', null, { n: 1 });
      const stop = s.watch(() => undefined);
      etcd!.child.kill('SIGSTOP');
      await waitFor(async () => allStopped(etcd!.child.pid!), 2000, 'etcd to stop', 5);
      try {
        const calls = { get: () => s.get('meta', 'm'), update: () => s.update('meta', 'm', (d) => d), list: () => s.list('meta'), create: () => s.create('meta', 'n', null, {}) };
        for (const [what, call] of Object.entries(calls)) {
          const t0 = Date.now();
          const e = await failure(call()).catch((err: Error) => {
            throw new Error(`${what}: ${err.message}`);
          });
          expect(e.code).toBe('unavailable');
          expect(e.message).toContain(etcd!.endpoint);
          expect(Date.now() - t0).toBeLessThan(2000);
        }
      } finally {
        etcd!.child.kill('SIGCONT');
      }
      stop();
      await s.close();
    });

    it('a watch cut off past a compaction starts again from now and says so (resync); writes do not wait on the dead one', async () => {
      const proxy = await tcpProxy(new URL(etcd!.endpoint));
      const prefix = freshPrefix();
      const s = new EtcdStore({ endpoints: [proxy.url], prefix, timeoutMs: 3000 });
      const direct = open(prefix);
      const raw = new Etcd3({ hosts: etcd!.endpoint });
      const heard: string[] = [];
      const stop = s.watch((c) => heard.push(c.op === 'resync' ? 'resync' : `${c.op} ${c.id}`));
      try {
        await s.create('meta', 'a', null, {});
        expect(heard).toEqual(['put a']);
        // The watch stream breaks; meanwhile others write and etcd compacts past where it would resume.
        await proxy.cut();
        await direct.create('meta', 'b', null, {});
        await direct.create('meta', 'c', null, {});
        const rev = (await raw.get('anything').exec()).header.revision;
        await raw.kv.compact({ revision: rev, physical: true });
        proxy.restore();
        await waitFor(async () => heard.includes('resync'), 20_000, 'the resync signal');
        // From then on the watch is live again, and a write returns as soon as it is heard.
        const t0 = Date.now();
        await s.create('meta', 'd', null, {});
        expect(Date.now() - t0).toBeLessThan(1500);
        expect(heard.slice(heard.indexOf('resync'))).toContain('put d');
        expect(heard).not.toContain('put b'); // lost with the compaction: what the resync is for
      } finally {
        stop();
        raw.close();
        await direct.close();
        await s.close();
        await proxy.close();
      }
    }, 40_000);

    it('fails promptly with unavailable when nothing listens at the endpoint', async () => {
      const s = new EtcdStore({ endpoints: ['http://127.0.0.1:9'], prefix: '/x', timeoutMs: 1000 });
      const t0 = Date.now();
      const e = await failure(s.get('meta', 'm'));
      expect(e.code).toBe('unavailable');
      expect(e.message).toContain('http://127.0.0.1:9');
      expect(Date.now() - t0).toBeLessThan(2000);
      await s.close();
    });
  });
});
