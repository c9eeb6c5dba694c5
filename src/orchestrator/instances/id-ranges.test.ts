import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isHullError } from '../../core/errors.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { IdRanges, RANGE_SIZE, parseSubid, poolFrom } from './id-ranges.js';

describe('poolFrom', () => {
  it("cuts the ranges /etc/subuid and /etc/subgid both give the user hull into 65536-id slots", () => {
    const uid = parseSubid('alice:100000:65536\nhull:1000000:196608\n# comment\nbad line\n');
    const gid = parseSubid('hull:1065536:131072\n');
    expect(poolFrom(uid, gid)).toEqual([
      { hostUid: 1065536, hostGid: 1065536 },
      { hostUid: 1131072, hostGid: 1131072 },
    ]);
  });

  it('without entries for hull: 1024 slots from 100000, skipping ranges other users hold', () => {
    const pool = poolFrom(parseSubid('alice:100000:65536\nbob:200000:10\n'), []);
    expect(pool[0]).toEqual({ hostUid: 100000 + 2 * RANGE_SIZE, hostGid: 100000 + 2 * RANGE_SIZE });
    expect(pool).toHaveLength(1022);
    expect(poolFrom([], [])).toHaveLength(1024);
    expect(poolFrom([], [])[0]).toEqual({ hostUid: 100000, hostGid: 100000 });
  });
});

describe('IdRanges', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hull-ranges-'));
    store = new SqliteStore(join(dir, 'hull.db'));
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives 50 concurrent allocations 50 different ranges, and none twice', async () => {
    const ranges = new IdRanges(store, poolFrom([], []));
    const maps = await Promise.all(Array.from({ length: 50 }, (_, i) => ranges.allocate(`c${i}`)));
    expect(new Set(maps.map((m) => m.hostUid)).size).toBe(50);
    for (const m of maps) expect(m.size).toBe(RANGE_SIZE);
    expect(await store.list('idrange')).toHaveLength(50);
  });

  it('frees a range at release (only its owner can), and never reuses one in use', async () => {
    const ranges = new IdRanges(store, poolFrom([], []).slice(0, 2));
    const a = await ranges.allocate('a');
    const b = await ranges.allocate('b');
    await expect(ranges.allocate('c')).rejects.toSatisfy((e) => isHullError(e, 'resource') && /all 2 are in use/.test((e as Error).message));
    await ranges.release('b', a); // not b's: stays
    await expect(ranges.allocate('c')).rejects.toThrow(/in use/);
    await ranges.release('a', a);
    expect(await ranges.allocate('c')).toEqual(a);
    expect(b.hostUid).not.toBe(a.hostUid);
  });

  it('sweeps ranges whose owner is gone, and holds the legacy range for old records', async () => {
    const ranges = new IdRanges(store, poolFrom([], []));
    await ranges.allocate('gone');
    const kept = await ranges.allocate('kept');
    await ranges.sweep(new Set(['kept']));
    expect(await store.list('idrange')).toEqual([{ owner: 'kept', ...kept }]);
    await ranges.holdLegacy('old');
    await ranges.holdLegacy('old2'); // already held: fine
    expect((await ranges.allocate('new')).hostUid).not.toBe(100000);
  });
});
