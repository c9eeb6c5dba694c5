import { describe, expect, it } from 'vitest';
import { isHullError } from '../../core/errors.js';
import { batchReads, encodeEntry, Layout, planBatch, prefixEnd, type KeyState } from './layout.js';

const L = new Layout('/h');

describe('etcd key layout', () => {
  it('parses id keys back, ids with / and : as they are; name keys and foreign keys are no documents', () => {
    expect(L.parseIdKey(L.idKey('tag', 'reg:5000/org/app:1.0'))).toEqual({ kind: 'tag', id: 'reg:5000/org/app:1.0' });
    expect(L.parseIdKey(L.nameKey('tag', 'x/id/y'))).toBeUndefined();
    expect(L.parseIdKey('/hx/tag/id/a')).toBeUndefined();
    expect(L.parseIdKey('/h/id/a')).toBeUndefined();
  });

  it('refuses a prefix that is empty or ends with /', () => {
    for (const p of ['', '/h/']) expect(() => new Layout(p)).toThrow(/prefix/);
  });

  it('ends a prefix range just past the prefix', () => {
    expect(prefixEnd('/h/tag/id/').toString()).toBe('/h/tag/id0');
  });
});

describe('planBatch', () => {
  const read = (m: Record<string, string | undefined>): KeyState => new Map(Object.entries(m));

  it('renames: the old name key goes (unread, known from the id key), the new one comes, in op order', () => {
    const ops = [
      { op: 'put' as const, kind: 'tag' as const, id: 'a', name: 'new', doc: 2 },
      { op: 'delete' as const, kind: 'tag' as const, id: 'b' },
    ];
    expect(batchReads(L, ops)).toEqual(['/h/tag/id/a', '/h/tag/name/new', '/h/tag/id/b']);
    const writes = planBatch(L, ops, read({ '/h/tag/id/a': encodeEntry({ name: 'old', doc: 1 }), '/h/tag/name/new': undefined, '/h/tag/id/b': encodeEntry({ name: null, doc: 3 }) }));
    expect(writes).toEqual([
      ['/h/tag/name/old', undefined],
      ['/h/tag/id/a', encodeEntry({ name: 'new', doc: 2 })],
      ['/h/tag/name/new', 'a'],
      ['/h/tag/id/b', undefined],
    ]);
  });

  it('frees a name within the batch for a later put, and refuses a name another document keeps', () => {
    const state = read({ '/h/tag/id/a': encodeEntry({ name: 'n', doc: 1 }), '/h/tag/id/b': undefined, '/h/tag/name/n': 'a' });
    const moved = planBatch(L, [{ op: 'delete', kind: 'tag', id: 'a' }, { op: 'put', kind: 'tag', id: 'b', name: 'n', doc: 2 }], state);
    expect(moved).toContainEqual(['/h/tag/name/n', 'b']);
    expect(moved).toContainEqual(['/h/tag/id/a', undefined]);
    let err: unknown;
    try {
      planBatch(L, [{ op: 'put', kind: 'tag', id: 'b', name: 'n', doc: 2 }], state);
    } catch (e) {
      err = e;
    }
    expect(isHullError(err, 'conflict') && err.message).toBe('tag name "n" is already in use');
  });

  it('keeps a replaced document\'s place (seq) and writes nothing for a put of what is there', () => {
    const cur = encodeEntry({ name: null, doc: 1, seq: 7 });
    expect(planBatch(L, [{ op: 'put', kind: 'tag', id: 'a', doc: 1 }], read({ '/h/tag/id/a': cur }))).toEqual([]);
    expect(planBatch(L, [{ op: 'put', kind: 'tag', id: 'a', doc: 2 }], read({ '/h/tag/id/a': cur }))).toEqual([['/h/tag/id/a', encodeEntry({ name: null, doc: 2, seq: 7 })]]);
  });
});
