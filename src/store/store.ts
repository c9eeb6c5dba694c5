/**
 * Store: Hull's state, as documents of a few kinds, each with an id and an
 * optional name that is unique within its kind. SQLite backs it on one host;
 * an etcd backend implements the same interface for a cluster, and the
 * conformance suite in store-suite.ts runs against every backend.
 *
 * Every call is atomic on its own. `update` is a read-modify-write that never
 * loses a concurrent change (SQLite: one transaction; etcd: compare-and-swap
 * retry). `batch` applies several writes all-or-nothing.
 *
 *   await store.create('instance', inst.id, inst.name, inst);   // conflict if the name is taken
 *   await store.update('instance', id, (cur) => ({ ...cur, state }));
 *   await store.delete('instance', id);
 */
export type Kind = 'instance' | 'image' | 'tag' | 'meta' | 'network' | 'buildcache' | 'idrange' | 'volume' | 'service' | 'app' | 'node';

/**
 * A committed write, as watchers hear it (etcd's watch events; SQLite: the
 * writes of this process), or `resync`: changes may have been missed (an etcd
 * watch that could not resume, its history compacted), so a watcher looks at
 * everything again. SQLite never sends it.
 */
export type Change = { kind: Kind; id: string; op: 'put' | 'delete' } | { op: 'resync' };

export type WriteOp =
  | { op: 'put'; kind: Kind; id: string; name?: string | null; doc: unknown }
  | { op: 'delete'; kind: Kind; id: string };

export interface Store {
  get<T>(kind: Kind, id: string): Promise<T | undefined>;
  getByName<T>(kind: Kind, name: string): Promise<T | undefined>;
  list<T>(kind: Kind): Promise<T[]>;
  /** Insert a new document. Throws HullError 'conflict' if the id or name is taken. */
  create<T>(kind: Kind, id: string, name: string | null, doc: T): Promise<void>;
  /** Read-modify-write. Throws 'not_found' if absent. Returns the new document. */
  update<T>(kind: Kind, id: string, mutate: (cur: T) => T): Promise<T>;
  /** Remove a document; removing an absent one is not an error. */
  delete(kind: Kind, id: string): Promise<void>;
  /** Apply all writes or none. A name clash throws 'conflict'. */
  batch(ops: WriteOp[]): Promise<void>;
  /**
   * Hear every change once it is committed and visible to reads (a failed
   * write tells nothing). Controllers use it to react to each other's writes;
   * they still resync now and then, as a watch may be cut (etcd compaction).
   * Returns the way to stop listening.
   */
  watch(listener: (c: Change) => void): () => void;
  close(): Promise<void>;
}
