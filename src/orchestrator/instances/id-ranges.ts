import { readFile } from 'node:fs/promises';
import { HullError, isHullError } from '../../core/errors.js';
import { LEGACY_ID_MAP, type IdMap } from '../../core/instance.js';
import type { Store } from '../../store/store.js';

/**
 * Host id ranges for user namespaces (--userns): each container gets 65536
 * host uids and gids of its own, so no two containers' roots (or any of their
 * users) are the same host ids. A range is a slot of the pool, held by an
 * `idrange` document keyed by the slot while its container exists. The
 * store's `create` refuses a taken key atomically, so concurrent creates race
 * for a slot and the loser moves to the next; nothing is reused while in use.
 *
 *   const map = await ranges.allocate(inst.id);   // { hostUid, hostGid, size }
 *   await ranges.release(inst.id, map);            // at rm
 *   await ranges.sweep(liveIds);                   // at start-up: slots whose container is gone
 *
 * The pool, as docker's userns-remap takes it from `dockremap`: the ranges
 * /etc/subuid and /etc/subgid both give the user `hull`, cut into 65536-id
 * slots. Without such entries:
 * 1024 slots from 100000, less any slot that overlaps a range those files
 * give another user (a rootless user's containers must not share ids with ours).
 */
export const RANGE_SIZE = 65536;
const DEFAULT_START = 100000;
const DEFAULT_SLOTS = 1024;

export interface Slot {
  hostUid: number;
  hostGid: number;
}

interface RangeDoc {
  owner: string;
  hostUid: number;
  hostGid: number;
  size: number;
}

export interface SubidRange {
  user: string;
  start: number;
  count: number;
}

/** `name:start:count` lines (subuid(5)); anything else is skipped. */
export function parseSubid(text: string): SubidRange[] {
  const out: SubidRange[] = [];
  for (const line of text.split('\n')) {
    const m = /^([^:#\s]+):(\d+):(\d+)\s*$/.exec(line.trim());
    if (m && Number.isSafeInteger(Number(m[2])) && Number(m[3]) > 0) out.push({ user: m[1], start: Number(m[2]), count: Number(m[3]) });
  }
  return out;
}

/**
 * The pool's slots from the two files' contents (see above). A slot is the
 * same host ids for users and groups (what useradd writes in both files), so
 * one number maps both, as hull cp's owner mapping takes it.
 */
export function poolFrom(subuid: SubidRange[], subgid: SubidRange[], user = 'hull'): Slot[] {
  const cut = (rs: SubidRange[]) => rs.filter((r) => r.user === user).flatMap((r) => Array.from({ length: Math.floor(r.count / RANGE_SIZE) }, (_, i) => r.start + i * RANGE_SIZE));
  const gids = new Set(cut(subgid));
  const both = cut(subuid).filter((s) => gids.has(s));
  if (both.length) return both.map((s) => ({ hostUid: s, hostGid: s }));
  const others = [...subuid, ...subgid].filter((r) => r.user !== user);
  const overlaps = (start: number) => others.some((r) => start < r.start + r.count && r.start < start + RANGE_SIZE);
  return Array.from({ length: DEFAULT_SLOTS }, (_, i) => DEFAULT_START + i * RANGE_SIZE)
    .filter((s) => !overlaps(s))
    .map((s) => ({ hostUid: s, hostGid: s }));
}

export async function readPool(files = { subuid: '/etc/subuid', subgid: '/etc/subgid' }): Promise<Slot[]> {
  const read = (p: string) => readFile(p, 'utf8').catch(() => '');
  return poolFrom(parseSubid(await read(files.subuid)), parseSubid(await read(files.subgid)));
}

export class IdRanges {
  constructor(
    private store: Store,
    private pool: Slot[],
  ) {}

  /** A free slot for `owner`, held until release. `resource` when every slot is taken. */
  async allocate(owner: string): Promise<IdMap> {
    const taken = new Set((await this.store.list<RangeDoc>('idrange')).map((d) => d.hostUid));
    for (const slot of this.pool) {
      if (taken.has(slot.hostUid)) continue;
      try {
        await this.store.create<RangeDoc>('idrange', key(slot.hostUid), null, { owner, ...slot, size: RANGE_SIZE });
        return { ...slot, size: RANGE_SIZE };
      } catch (e) {
        if (!isHullError(e, 'conflict')) throw e; // another create took it first: try the next
      }
    }
    throw new HullError('resource', `no free user namespace range: all ${this.pool.length} are in use (give the user hull more in /etc/subuid and /etc/subgid)`);
  }

  /** Free `owner`'s range; a range someone else holds now is left alone. */
  async release(owner: string, map: IdMap | undefined): Promise<void> {
    if (!map) return;
    const doc = await this.store.get<RangeDoc>('idrange', key(map.hostUid));
    if (doc?.owner === owner) await this.store.delete('idrange', key(map.hostUid));
  }

  /** Free the ranges whose owner is not among `live` (a daemon killed between allocation and the record). */
  async sweep(live: Set<string>): Promise<void> {
    for (const d of await this.store.list<RangeDoc>('idrange')) if (!live.has(d.owner)) await this.store.delete('idrange', key(d.hostUid));
  }

  /** Hold the legacy range for records from before allocation, so no new container gets it. */
  async holdLegacy(owner: string): Promise<void> {
    await this.store.create<RangeDoc>('idrange', key(LEGACY_ID_MAP.hostUid), null, { owner, ...LEGACY_ID_MAP }).catch((e) => {
      if (!isHullError(e, 'conflict')) throw e;
    });
  }
}

const key = (hostUid: number) => String(hostUid);
