import { conflict, invalid } from '../../core/errors.js';
import type { Kind, WriteOp } from '../store.js';

/**
 * The etcd key layout of a store under `prefix`:
 *
 *   <prefix>/<kind>/id/<id>      → {"name": <name or null>, "doc": <document>}
 *   <prefix>/<kind>/name/<name>  → <id>   (only for named documents)
 *
 * An id or name is the key's tail as it is (`/`, `:` and `@` included): a key
 * is read whole, and a list ranges over `<prefix>/<kind>/id/`, so a tail never
 * needs escaping. Every write that changes a document's name key also changes
 * its id key in the same transaction, so comparing the id key's revision
 * covers its name key too.
 */
export class Layout {
  constructor(readonly prefix: string) {
    if (!prefix || prefix.endsWith('/')) throw invalid(`etcd store prefix "${prefix}": must be non-empty and not end with "/"`);
  }

  idKey(kind: Kind, id: string): string {
    return `${this.prefix}/${kind}/id/${id}`;
  }

  nameKey(kind: Kind, name: string): string {
    return `${this.prefix}/${kind}/name/${name}`;
  }

  idPrefix(kind: Kind): string {
    return `${this.prefix}/${kind}/id/`;
  }

  /** The whole store, as watched. */
  all(): string {
    return `${this.prefix}/`;
  }

  /** The document an id key names, or undefined for a name key or a key outside the layout. */
  parseIdKey(key: string): { kind: Kind; id: string } | undefined {
    if (!key.startsWith(this.all())) return undefined;
    const rest = key.slice(this.all().length);
    const slash = rest.indexOf('/');
    if (slash <= 0 || !rest.startsWith('id/', slash + 1)) return undefined;
    return { kind: rest.slice(0, slash) as Kind, id: rest.slice(slash + 4) };
  }
}

/**
 * The value stored under an id key. `seq`: the put's place in the batch that
 * created the document (keys of one transaction share a create revision, and
 * lists are in creation order); absent for a document made alone.
 */
export interface Entry {
  name: string | null;
  doc: unknown;
  seq?: number;
}

export const encodeEntry = (e: Entry): string => JSON.stringify(e);
export const decodeEntry = (value: string): Entry => JSON.parse(value) as Entry;

/** The one end key of a prefix range: the prefix with its last byte raised by one. */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i]++;
      return end;
    }
  }
  return Buffer.from([0]);
}

/** The keys a batch must read (and compare at commit): each op's id key, each put's name key. */
export function batchReads(layout: Layout, ops: WriteOp[]): string[] {
  const keys = new Set<string>();
  for (const o of ops) {
    keys.add(layout.idKey(o.kind, o.id));
    if (o.op === 'put' && o.name) keys.add(layout.nameKey(o.kind, o.name));
  }
  return [...keys];
}

/** Key → value (undefined: absent), as read, then as the batch leaves it. */
export type KeyState = Map<string, string | undefined>;

/**
 * Apply `ops` in order to what was read, as the SQLite store does: a delete
 * removes the document and its name; a put replaces the document and its name
 * (upsert). A name held by another document throws 'conflict'. Returns the
 * writes, one per changed key, in the order the ops first touched them (so
 * watchers hear a batch's documents in op order); undefined means delete.
 */
export function planBatch(layout: Layout, ops: WriteOp[], read: KeyState): Array<[string, string | undefined]> {
  const initial: KeyState = new Map(read);
  const state: KeyState = new Map(read);
  const order: string[] = [];
  const touch = (key: string, value: string | undefined) => {
    if (!order.includes(key)) order.push(key);
    state.set(key, value);
  };
  const current = (key: string): Entry | undefined => {
    const v = state.get(key);
    return v === undefined ? undefined : decodeEntry(v);
  };
  for (const [seq, o] of ops.entries()) {
    const idKey = layout.idKey(o.kind, o.id);
    const cur = current(idKey);
    // The old name key is not read: it holds this id for as long as the id key names it.
    const dropOldName = (keep?: string | null) => {
      if (!cur?.name || cur.name === keep) return;
      const key = layout.nameKey(o.kind, cur.name);
      if (!state.has(key)) {
        initial.set(key, o.id);
        state.set(key, o.id);
      }
      touch(key, undefined);
    };
    if (o.op === 'delete') {
      if (!cur) continue;
      dropOldName();
      touch(idKey, undefined);
      continue;
    }
    const name = o.name ?? null;
    if (name) {
      const owner = state.get(layout.nameKey(o.kind, name)); // read: batchReads lists every put's name
      if (owner !== undefined && owner !== o.id) throw conflict(`${o.kind} name "${name}" is already in use`);
    }
    dropOldName(name);
    touch(idKey, encodeEntry({ name, doc: o.doc, seq: cur ? cur.seq : seq }));
    if (name) touch(layout.nameKey(o.kind, name), o.id);
  }
  return order.filter((k) => state.get(k) !== initial.get(k)).map((k) => [k, state.get(k)]);
}
