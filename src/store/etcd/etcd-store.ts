import { Etcd3, type Watcher } from 'etcd3';
import type { ICompare, IRequestOp, ITxnResponse, IKeyValue, IWatchResponse } from 'etcd3';
import { HullError, invalid, notFound } from '../../core/errors.js';
import { KeyedLock } from '../../core/keyed-lock.js';
import { sleep } from '../../core/poll.js';
import type { Change, Kind, Store, WriteOp } from '../store.js';
import { batchReads, decodeEntry, encodeEntry, Layout, planBatch, prefixEnd, type KeyState } from './layout.js';
import { bounded, faultHandling } from './errors.js';

export interface EtcdStoreOptions {
  /** Client URLs, e.g. http://127.0.0.1:2379. */
  endpoints: string[];
  /** Every key lives under `<prefix>/`. */
  prefix: string;
  /** Bound on each call to etcd, in ms (default 5000): past it, the call fails 'unavailable'. */
  timeoutMs?: number;
  /** etcd's --max-txn-ops (default 128): a batch needing more is refused, never split. */
  maxTxnOps?: number;
}

const LIST_PAGE = 500;
const MAX_CAS_ATTEMPTS = 100;

/**
 * etcd backend (etcd v3 API through the `etcd3` client; key layout in
 * layout.ts). create and batch are one transaction each; update and delete are
 * compare-and-swap on the id key's mod revision, retried when another writer
 * won. Reads are linearizable. No call waits longer than `timeoutMs`.
 * Watchers hear every write under the prefix, from this client or any other;
 * a write of this client returns once its changes have reached them.
 */
export class EtcdStore implements Store {
  private readonly client: Etcd3;
  private readonly layout: Layout;
  private readonly timeoutMs: number;
  private readonly maxTxnOps: number;
  private readonly where: string;
  private readonly updates = new KeyedLock();
  private readonly listeners = new Set<(c: Change) => void>();
  private watcher?: Promise<Watcher>;
  /** The highest revision the watcher has delivered, and writers waiting for theirs. */
  private delivered = 0;
  private waiting: Array<{ rev: number; done: () => void }> = [];
  private closed = false;
  /** One try per member: a call that reached none, or a read whose member went, goes to the next. */
  private readonly attempts: number;

  constructor(opts: EtcdStoreOptions) {
    if (!opts.endpoints.length) throw invalid('etcd store: no endpoint given');
    this.layout = new Layout(opts.prefix);
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxTxnOps = opts.maxTxnOps ?? 128;
    this.where = `etcd at ${opts.endpoints.join(',')}`;
    this.client = new Etcd3({ hosts: opts.endpoints, dialTimeout: this.timeoutMs, faultHandling: faultHandling(opts.endpoints.length) });
    this.attempts = opts.endpoints.length;
  }

  async get<T>(kind: Kind, id: string): Promise<T | undefined> {
    const kv = await this.read(this.layout.idKey(kind, id));
    return kv ? (decodeEntry(kv.value.toString()).doc as T) : undefined;
  }

  async getByName<T>(kind: Kind, name: string): Promise<T | undefined> {
    // Two reads: a rename between them shows as a document of another name; read again.
    for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
      const idKv = await this.read(this.layout.nameKey(kind, name));
      if (!idKv) return undefined;
      const kv = await this.read(this.layout.idKey(kind, idKv.value.toString()));
      const entry = kv && decodeEntry(kv.value.toString());
      if (entry?.name === name) return entry.doc as T;
    }
    throw this.busy(`${kind} name "${name}"`);
  }

  /**
   * In creation order (SQLite's rowid order): create revision, then place in
   * the creating batch. Read in pages by key from one snapshot, sorted here.
   */
  async list<T>(kind: Kind): Promise<T[]> {
    const all: IKeyValue[] = [];
    const end = prefixEnd(this.layout.idPrefix(kind));
    let key = Buffer.from(this.layout.idPrefix(kind));
    let revision: string | undefined;
    for (;;) {
      const res = await this.call('list', (o) => this.client.kv.range({ key, range_end: end, limit: LIST_PAGE, revision }, o));
      all.push(...res.kvs);
      if (!res.more || !res.kvs.length) break;
      revision = res.header.revision;
      key = Buffer.concat([res.kvs[res.kvs.length - 1].key, Buffer.from([0])]);
    }
    const rows = all.map((kv) => ({ rev: Number(kv.create_revision), entry: decodeEntry(kv.value.toString()) }));
    rows.sort((a, b) => a.rev - b.rev || (a.entry.seq ?? 0) - (b.entry.seq ?? 0));
    return rows.map((r) => r.entry.doc as T);
  }

  async create<T>(kind: Kind, id: string, name: string | null, doc: T): Promise<void> {
    const idKey = this.layout.idKey(kind, id);
    const nameKey = name ? this.layout.nameKey(kind, name) : undefined;
    const absent = (key: string): ICompare => ({ key: Buffer.from(key), target: 'Create', result: 'Equal', create_revision: 0 });
    const res = await this.txn(
      'create',
      nameKey ? [absent(idKey), absent(nameKey)] : [absent(idKey)],
      [put(idKey, encodeEntry({ name, doc })), ...(nameKey ? [put(nameKey, id)] : [])],
      [{ request_range: { key: Buffer.from(idKey), count_only: true } }],
    );
    if (!res.succeeded) {
      const idTaken = Number(res.responses[0].response_range.count) > 0;
      throw new HullError('conflict', idTaken || !name ? `${kind} ${id} already exists` : `${kind} name "${name}" is already in use`);
    }
  }

  /** One update per document at a time in this client (no retry storm among its own callers); CAS against all others. */
  async update<T>(kind: Kind, id: string, mutate: (cur: T) => T): Promise<T> {
    const key = this.layout.idKey(kind, id);
    return this.updates.run(key, async () => {
      for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
        const kv = await this.read(key);
        if (!kv) throw notFound(`${kind} ${id}`);
        const entry = decodeEntry(kv.value.toString());
        const next = mutate(entry.doc as T);
        const res = await this.txn('update', [sameRevision(key, kv.mod_revision)], [put(key, encodeEntry({ ...entry, doc: next }))]);
        if (res.succeeded) return next;
      }
      throw this.busy(`${kind} ${id}`);
    });
  }

  async delete(kind: Kind, id: string): Promise<void> {
    const key = this.layout.idKey(kind, id);
    for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
      const kv = await this.read(key);
      if (!kv) return;
      const { name } = decodeEntry(kv.value.toString());
      const ops = [del(key), ...(name ? [del(this.layout.nameKey(kind, name))] : [])];
      if ((await this.txn('delete', [sameRevision(key, kv.mod_revision)], ops)).succeeded) return;
    }
    throw this.busy(`${kind} ${id}`);
  }

  /**
   * Read every key the batch depends on, apply the ops to that in memory, and
   * commit the result in one transaction comparing every key read; retry if
   * any changed meanwhile. etcd refuses a transaction of more than
   * --max-txn-ops compares or writes, so a batch that needs more is refused.
   */
  async batch(ops: WriteOp[]): Promise<void> {
    if (!ops.length) return;
    const keys = batchReads(this.layout, ops);
    this.checkTxnSize(keys.length, ops.length);
    for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
      const res = await this.call('batch read', (o) => this.client.kv.txn({ success: keys.map((k) => ({ request_range: { key: Buffer.from(k) } })) }, o));
      const read: KeyState = new Map();
      const compares: ICompare[] = [];
      keys.forEach((k, j) => {
        const kv = res.responses[j].response_range.kvs[0];
        read.set(k, kv?.value.toString());
        compares.push(sameRevision(k, kv?.mod_revision ?? 0));
      });
      const writes = planBatch(this.layout, ops, read);
      this.checkTxnSize(compares.length, writes.length);
      const commit = await this.txn(
        'batch',
        compares,
        writes.map(([k, v]) => (v === undefined ? del(k) : put(k, v))),
      );
      if (commit.succeeded) return;
    }
    throw this.busy('batch');
  }

  watch(listener: (c: Change) => void): () => void {
    this.listeners.add(listener);
    this.watcher ??= this.startWatch();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopWatch();
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.stopWatch();
    this.client.close();
  }

  private startWatch(): Promise<Watcher> {
    const w = this.client.watch().prefix(this.layout.all()).watcher();
    w.on('data', (res: IWatchResponse) => this.deliver(res));
    // A broken stream: the manager reconnects and resumes from the last revision it delivered. A
    // cancelled watch (that revision was compacted meanwhile) ends here: start again (rewatch).
    w.on('error', (e: Error) => /cancel/i.test(e.message) && void this.rewatch(w));
    w.on('disconnected', () => undefined);
    const connected = new Promise<Watcher>((resolve) => w.once('connected', () => resolve(w)));
    return connected;
  }

  /**
   * etcd cancelled the watch: it could not resume where it left off, so what
   * changed meanwhile is lost to it. Watch again from now, count every
   * revision up to now as delivered (writers waiting for theirs are not held
   * by the dead watch), and tell the listeners to look at everything again.
   * Retried while etcd does not answer; a store closed or with no listener
   * left stops.
   */
  private async rewatch(dead: Watcher): Promise<void> {
    for (let attempt = 0; !this.closed && this.listeners.size && (await this.watcher?.catch(() => undefined)) === dead; attempt++) {
      const next = this.startWatch();
      this.watcher = next;
      try {
        await this.call('watch start', () => next);
        const now = await this.call('read', (o) => this.client.kv.range({ key: Buffer.from(this.layout.all()), limit: 1, count_only: true }, o));
        this.delivered = Math.max(this.delivered, Number(now.header.revision));
        this.waiting = this.waiting.filter((x) => (x.rev <= this.delivered ? (x.done(), false) : true));
        this.tell({ op: 'resync' });
        return;
      } catch {
        void next.then((x) => x.cancel()).catch(() => undefined);
        this.watcher = Promise.resolve(dead);
        await sleep(Math.min(5000, 250 * 2 ** attempt));
      }
    }
  }

  private stopWatch(): void {
    const w = this.watcher;
    this.watcher = undefined;
    for (const x of this.waiting.splice(0)) x.done();
    void w?.then((x) => x.cancel()).catch(() => undefined);
  }

  /** Tell every listener each document event, then release the writers whose revision has now been delivered. */
  private deliver(res: IWatchResponse): void {
    for (const ev of res.events) {
      this.delivered = Math.max(this.delivered, Number(ev.kv.mod_revision));
      const doc = this.layout.parseIdKey(ev.kv.key.toString());
      if (!doc) continue;
      this.tell({ ...doc, op: ev.type === 'Delete' ? 'delete' : 'put' });
    }
    this.waiting = this.waiting.filter((x) => (x.rev <= this.delivered ? (x.done(), false) : true));
  }

  private tell(change: Change): void {
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch {
        // a listener that throws is its own problem, never the writer's
      }
    }
  }

  /** A write returns after the watcher delivered it (bounded: a cut watch stream must not hold the writer). */
  private async delivery(rev: number): Promise<void> {
    if (!this.watcher || rev <= this.delivered) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.timeoutMs);
      this.waiting.push({ rev, done: () => (clearTimeout(timer), resolve()) });
    });
  }

  private async read(key: string): Promise<IKeyValue | undefined> {
    const res = await this.call('read', (o) => this.client.kv.range({ key: Buffer.from(key) }, o));
    return res.kvs[0];
  }

  private async txn(what: string, compare: ICompare[], success: IRequestOp[], failure: IRequestOp[] = []): Promise<ITxnResponse> {
    if (this.watcher) await this.call('watch start', () => this.watcher!);
    // A transaction goes again only if it never reached etcd (it may have been applied otherwise).
    const res = await this.call(what, (o) => this.client.kv.txn({ compare, success, failure }, o), !success.length);
    if (res.succeeded && success.length) await this.delivery(Number(res.header.revision));
    return res;
  }

  /** One etcd call, bounded by the deadline and by a timer of our own (a stuck dial, a stuck watch start). */
  private async call<R>(what: string, fn: (opts: { deadline: number }) => Promise<R>, idempotent = true): Promise<R> {
    if (this.closed) throw new HullError('unavailable', `${this.where}: the store is closed`);
    return bounded(this.where, this.timeoutMs, what, fn, { attempts: this.attempts, idempotent });
  }

  private checkTxnSize(compares: number, writes: number): void {
    const n = Math.max(compares, writes);
    if (n > this.maxTxnOps) {
      throw invalid(`batch too large for one etcd transaction: it needs ${n} operations, etcd allows ${this.maxTxnOps} (--max-txn-ops)`);
    }
  }

  private busy(what: string): HullError {
    return new HullError('conflict', `${what}: other writers changed it ${MAX_CAS_ATTEMPTS} times in a row, giving up`);
  }
}

const put = (key: string, value: string): IRequestOp => ({ request_put: { key: Buffer.from(key), value: Buffer.from(value) } });
const del = (key: string): IRequestOp => ({ request_delete_range: { key: Buffer.from(key) } });
/** The key is as it was read (revision 0: still absent). */
const sameRevision = (key: string, rev: string | number): ICompare => ({ key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: rev });
