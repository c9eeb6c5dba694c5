import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isHullError, type ErrorCode, type HullError } from '../core/errors.js';
import type { Store } from './store.js';

/**
 * The Store conformance suite: every backend (SQLite, etcd) runs it, so the
 * engine can rely on the contract in store.ts whichever one it is given.
 *
 *   storeSuite('sqlite', async () => {
 *     const dir = await mkdtemp(...);
 *     let store = new SqliteStore(join(dir, 'hull.db'));
 *     return {
 *       get store() { return store; },
 *       reopen: async () => { await store.close(); return (store = new SqliteStore(...)); },
 *       cleanup: async () => { await store.close(); await rm(dir, { recursive: true }); },
 *     };
 *   });
 *
 * Each call of the factory gives an empty store of its own. A backend that
 * cannot pass a case lists it in `skip` with the reason, and the reason shows
 * in the test's title.
 */
export interface StoreFixture {
  readonly store: Store;
  /** Close the store and open a new one over the same data; `store` is the new one afterwards. */
  reopen(): Promise<Store>;
  /** Close whatever is open and remove the data. */
  cleanup(): Promise<void>;
}

export interface StoreSuiteOptions {
  /** Case titles this backend skips, each with its reason. */
  skip?: Record<string, string>;
}

interface Doc {
  id: string;
  n: number;
  tags?: string[];
}

async function rejection(p: Promise<unknown>, code: ErrorCode): Promise<HullError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isHullError(e)) throw new Error(`expected HullError '${code}', got ${e === undefined ? 'success' : String(e)}`);
  expect(e.code).toBe(code);
  return e;
}

export function storeSuite(name: string, factory: () => Promise<StoreFixture>, opts: StoreSuiteOptions = {}): void {
  describe(`Store conformance: ${name}`, () => {
    let fx: StoreFixture;
    let s: Store;
    beforeEach(async () => {
      fx = await factory();
      s = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    const test = (title: string, fn: () => Promise<void>) => {
      const reason = opts.skip?.[title];
      if (reason) it.skip(`${title} (skipped: ${reason})`, fn);
      else it(title, fn);
    };

    test('create, then get by id and by name', async () => {
      await s.create<Doc>('instance', 'i1', 'web', { id: 'i1', n: 1 });
      expect(await s.get<Doc>('instance', 'i1')).toEqual({ id: 'i1', n: 1 });
      expect(await s.getByName<Doc>('instance', 'web')).toEqual({ id: 'i1', n: 1 });
      expect(await s.get('instance', 'nope')).toBeUndefined();
      expect(await s.getByName('instance', 'nope')).toBeUndefined();
      expect(await s.get('image', 'i1')).toBeUndefined();
      expect(await s.getByName('image', 'web')).toBeUndefined();
    });

    test('lists one kind, in insertion order', async () => {
      for (const id of ['c', 'a', 'b']) await s.create<Doc>('instance', id, `n-${id}`, { id, n: 0 });
      await s.create<Doc>('image', 'x', null, { id: 'x', n: 0 });
      await s.update<Doc>('instance', 'c', (d) => ({ ...d, n: 5 }));
      expect((await s.list<Doc>('instance')).map((d) => d.id)).toEqual(['c', 'a', 'b']);
      expect((await s.list<Doc>('image')).map((d) => d.id)).toEqual(['x']);
      expect(await s.list('tag')).toEqual([]);
    });

    test('refuses a taken id or name with conflict, naming the name', async () => {
      await s.create<Doc>('instance', 'i1', 'web', { id: 'i1', n: 1 });
      await rejection(s.create<Doc>('instance', 'i1', 'other', { id: 'i1', n: 2 }), 'conflict');
      const e = await rejection(s.create<Doc>('instance', 'i2', 'web', { id: 'i2', n: 2 }), 'conflict');
      expect(e.message).toContain('"web"');
      expect(await s.get<Doc>('instance', 'i1')).toEqual({ id: 'i1', n: 1 });
      expect(await s.get('instance', 'i2')).toBeUndefined();
      expect(await s.getByName('instance', 'other')).toBeUndefined();
    });

    test('lets two kinds use the same id and name', async () => {
      await s.create<Doc>('instance', 'same', 'web', { id: 'same', n: 1 });
      await s.create<Doc>('image', 'same', 'web', { id: 'same', n: 2 });
      expect((await s.getByName<Doc>('instance', 'web'))?.n).toBe(1);
      expect((await s.getByName<Doc>('image', 'web'))?.n).toBe(2);
    });

    test('lets documents without a name share that', async () => {
      await s.create<Doc>('image', 'a', null, { id: 'a', n: 1 });
      await s.create<Doc>('image', 'b', null, { id: 'b', n: 2 });
      expect(await s.list('image')).toHaveLength(2);
    });

    test('keeps ids and names with / : @ as they are', async () => {
      const id = 'sha256:0123abcd';
      const tag = 'registry.example:5000/org/app:1.0@x';
      await s.create('tag', tag, tag, { name: tag });
      await s.create('image', id, null, { id });
      expect(await s.get('tag', tag)).toEqual({ name: tag });
      expect(await s.getByName('tag', tag)).toEqual({ name: tag });
      expect(await s.get('image', id)).toEqual({ id });
      expect(await s.get('tag', 'registry.example:5000/org/app')).toBeUndefined();
    });

    test('updates read-modify-write and returns the new document', async () => {
      await s.create<Doc>('instance', 'i1', 'web', { id: 'i1', n: 1 });
      const next = await s.update<Doc>('instance', 'i1', (d) => ({ ...d, n: d.n + 1, tags: ['x'] }));
      expect(next).toEqual({ id: 'i1', n: 2, tags: ['x'] });
      expect(await s.get('instance', 'i1')).toEqual(next);
      expect(await s.getByName('instance', 'web')).toEqual(next);
    });

    test('refuses to update an absent document with not_found, creating nothing', async () => {
      let called = false;
      await rejection(
        s.update<Doc>('instance', 'ghost', (d) => {
          called = true;
          return d;
        }),
        'not_found',
      );
      expect(called).toBe(false);
      expect(await s.get('instance', 'ghost')).toBeUndefined();
    });

    test('leaves the document as it was when the mutation throws', async () => {
      await s.create<Doc>('instance', 'i1', null, { id: 'i1', n: 1 });
      await expect(
        s.update<Doc>('instance', 'i1', () => {
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect(await s.get('instance', 'i1')).toEqual({ id: 'i1', n: 1 });
    });

    test('loses no update among 100 concurrent ones', async () => {
      await s.create<Doc>('meta', 'counter', null, { id: 'counter', n: 0 });
      await Promise.all(Array.from({ length: 100 }, () => s.update<Doc>('meta', 'counter', (d) => ({ ...d, n: d.n + 1 }))));
      expect((await s.get<Doc>('meta', 'counter'))?.n).toBe(100);
    });

    test('deletes idempotently', async () => {
      await s.create<Doc>('instance', 'i1', 'web', { id: 'i1', n: 1 });
      await s.delete('instance', 'i1');
      await s.delete('instance', 'i1');
      await s.delete('instance', 'never-was');
      expect(await s.get('instance', 'i1')).toBeUndefined();
      expect(await s.getByName('instance', 'web')).toBeUndefined();
      expect(await s.list('instance')).toEqual([]);
    });

    test('frees a deleted document\'s id and name for reuse', async () => {
      await s.create<Doc>('instance', 'i1', 'web', { id: 'i1', n: 1 });
      await s.delete('instance', 'i1');
      await s.create<Doc>('instance', 'i2', 'web', { id: 'i2', n: 2 });
      await s.create<Doc>('instance', 'i1', 'db', { id: 'i1', n: 3 });
      expect((await s.getByName<Doc>('instance', 'web'))?.id).toBe('i2');
      expect((await s.getByName<Doc>('instance', 'db'))?.id).toBe('i1');
    });

    test('applies a batch of puts and deletes; a put replaces a document and its name', async () => {
      await s.create('tag', 'old', 'old', { v: 1 });
      await s.create('tag', 'moved', 'moved', { v: 1 });
      await s.batch([
        { op: 'put', kind: 'image', id: 'img', doc: { v: 2 } },
        { op: 'put', kind: 'tag', id: 'moved', name: 'renamed', doc: { v: 2 } },
        { op: 'delete', kind: 'tag', id: 'old' },
        { op: 'delete', kind: 'tag', id: 'never-was' },
      ]);
      expect(await s.get('image', 'img')).toEqual({ v: 2 });
      expect(await s.get('tag', 'moved')).toEqual({ v: 2 });
      expect(await s.getByName('tag', 'renamed')).toEqual({ v: 2 });
      expect(await s.getByName('tag', 'moved')).toBeUndefined();
      expect(await s.get('tag', 'old')).toBeUndefined();
      await s.batch([]);
    });

    test('applies nothing of a batch with a name clash', async () => {
      await s.create('instance', 'keep', 'taken', { v: 1 });
      await s.create('instance', 'doomed', 'd', { v: 1 });
      await rejection(
        s.batch([
          { op: 'put', kind: 'instance', id: 'new1', name: 'fresh', doc: { v: 2 } },
          { op: 'delete', kind: 'instance', id: 'doomed' },
          { op: 'put', kind: 'instance', id: 'keep', name: 'taken', doc: { v: 9 } },
          { op: 'put', kind: 'instance', id: 'new2', name: 'taken', doc: { v: 2 } },
        ]),
        'conflict',
      );
      expect(await s.get('instance', 'new1')).toBeUndefined();
      expect(await s.getByName('instance', 'fresh')).toBeUndefined();
      expect(await s.get('instance', 'doomed')).toEqual({ v: 1 });
      expect(await s.get('instance', 'keep')).toEqual({ v: 1 });
      expect(await s.get('instance', 'new2')).toBeUndefined();
      expect((await s.list('instance')).length).toBe(2);
    });

    test('round-trips documents as JSON, exactly', async () => {
      const doc = {
        s: 'ünïcødé ✓ "quoted" \\ \n\t',
        empty: '',
        ints: [0, -1, 2 ** 53 - 1, -(2 ** 53 - 1)],
        floats: [0.1, 1.5e-7, 123456.789],
        bools: [true, false],
        nil: null,
        nested: { a: { b: { c: [[], {}, [1, { d: 'e' }]] } } },
        order: { z: 1, a: 2, m: 3 },
        gone: undefined,
      };
      await s.create('meta', 'doc', null, doc);
      const back = await s.get('meta', 'doc');
      expect(JSON.stringify(back)).toBe(JSON.stringify(doc));
      expect(back).not.toHaveProperty('gone');
      await s.create('meta', 'scalar', null, 'just a string');
      expect(await s.get('meta', 'scalar')).toBe('just a string');
    });

    test('hands out copies: changing a returned document changes nothing stored', async () => {
      await s.create<Doc>('instance', 'i1', null, { id: 'i1', n: 1, tags: ['a'] });
      const got = (await s.get<Doc>('instance', 'i1'))!;
      got.n = 99;
      got.tags!.push('b');
      (await s.list<Doc>('instance'))[0].n = 98;
      expect(await s.get('instance', 'i1')).toEqual({ id: 'i1', n: 1, tags: ['a'] });
    });

    test('keeps its data across close and reopen', async () => {
      await s.create<Doc>('instance', 'b', 'web', { id: 'b', n: 1 });
      await s.create<Doc>('instance', 'a', null, { id: 'a', n: 1 });
      await s.create<Doc>('instance', 'gone', 'gone', { id: 'gone', n: 1 });
      await s.update<Doc>('instance', 'b', (d) => ({ ...d, n: 2 }));
      await s.batch([
        { op: 'put', kind: 'tag', id: 't', name: 't', doc: { v: 1 } },
        { op: 'delete', kind: 'instance', id: 'gone' },
      ]);
      s = await fx.reopen();
      expect(fx.store).toBe(s);
      expect(await s.list<Doc>('instance')).toEqual([
        { id: 'b', n: 2 },
        { id: 'a', n: 1 },
      ]);
      expect(await s.getByName<Doc>('instance', 'web')).toEqual({ id: 'b', n: 2 });
      expect(await s.getByName('tag', 't')).toEqual({ v: 1 });
      expect(await s.getByName('instance', 'gone')).toBeUndefined();
      await rejection(s.create<Doc>('instance', 'c', 'web', { id: 'c', n: 0 }), 'conflict');
    });

    test('tells watchers each committed change once it can be read, and nothing of a failed write', async () => {
      const seen: Array<{ c: string; visible: boolean }> = [];
      const stop = s.watch((c) => {
        if (c.op !== 'resync') seen.push({ c: `${c.op} ${c.kind} ${c.id}`, visible: true });
      });
      // A read started as each change is heard, kept in the order heard (a networked backend may answer reads out of order).
      const visibleAt: Array<Promise<string>> = [];
      const stop2 = s.watch((c) => {
        if (c.op === 'resync') return;
        visibleAt.push(s.get(c.kind, c.id).then((d) => `${c.op} ${d === undefined ? 'absent' : 'present'}`));
      });
      await s.create<Doc>('service', 'w1', 'web', { id: 'w1', n: 1 });
      await s.update<Doc>('service', 'w1', (d) => ({ ...d, n: 2 }));
      await rejection(s.create<Doc>('service', 'w2', 'web', { id: 'w2', n: 1 }), 'conflict');
      await rejection(s.update<Doc>('service', 'ghost', (d) => d), 'not_found');
      await s.batch([
        { op: 'put', kind: 'service', id: 'w3', name: 'api', doc: { id: 'w3', n: 1 } },
        { op: 'delete', kind: 'service', id: 'w1' },
      ]);
      await s.delete('service', 'w1');
      stop();
      await s.delete('service', 'w3');
      stop2();
      expect(seen.map((x) => x.c)).toEqual(['put service w1', 'put service w1', 'put service w3', 'delete service w1']);
      expect((await Promise.all(visibleAt)).slice(0, 5)).toEqual(['put present', 'put present', 'put present', 'delete absent', 'delete absent']);
    });

    test('keeps writing when a watcher throws', async () => {
      const stop = s.watch(() => {
        throw new Error('a broken watcher');
      });
      await s.create<Doc>('service', 'x', null, { id: 'x', n: 1 });
      expect(await s.get('service', 'x')).toEqual({ id: 'x', n: 1 });
      stop();
    });
  });
}
