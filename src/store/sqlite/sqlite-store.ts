import Database from 'better-sqlite3';
import { conflict, notFound } from '../../core/errors.js';
import type { Change, Kind, Store, WriteOp } from '../store.js';

/**
 * SQLite backend: one table of JSON documents. WAL mode, synchronous=NORMAL:
 * a commit survives a killed daemon (the WAL is fsync'd at checkpoints and
 * SQLite recovers it on open); only a host power loss may drop the last
 * transactions. Watchers hear this process's writes (the daemon is the only
 * writer of its root).
 */
export class SqliteStore implements Store {
  private db: Database.Database;
  private stmts: ReturnType<SqliteStore['prepare']>;
  private listeners = new Set<(c: Change) => void>();

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('busy_timeout = 5000'); // first: another process may hold the file at open
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS docs (
      kind TEXT NOT NULL, id TEXT NOT NULL, name TEXT, doc TEXT NOT NULL,
      PRIMARY KEY (kind, id), UNIQUE (kind, name))`);
    this.stmts = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      get: db.prepare<[string, string], { doc: string }>('SELECT doc FROM docs WHERE kind = ? AND id = ?'),
      byName: db.prepare<[string, string], { doc: string }>('SELECT doc FROM docs WHERE kind = ? AND name = ?'),
      list: db.prepare<[string], { doc: string }>('SELECT doc FROM docs WHERE kind = ? ORDER BY rowid'),
      insert: db.prepare('INSERT INTO docs (kind, id, name, doc) VALUES (?, ?, ?, ?)'),
      upsert: db.prepare(
        'INSERT INTO docs (kind, id, name, doc) VALUES (?, ?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET name = excluded.name, doc = excluded.doc',
      ),
      setDoc: db.prepare('UPDATE docs SET doc = ? WHERE kind = ? AND id = ?'),
      del: db.prepare('DELETE FROM docs WHERE kind = ? AND id = ?'),
    };
  }

  async get<T>(kind: Kind, id: string): Promise<T | undefined> {
    const row = this.stmts.get.get(kind, id);
    return row ? (JSON.parse(row.doc) as T) : undefined;
  }

  async getByName<T>(kind: Kind, name: string): Promise<T | undefined> {
    const row = this.stmts.byName.get(kind, name);
    return row ? (JSON.parse(row.doc) as T) : undefined;
  }

  async list<T>(kind: Kind): Promise<T[]> {
    return this.stmts.list.all(kind).map((r) => JSON.parse(r.doc) as T);
  }

  async create<T>(kind: Kind, id: string, name: string | null, doc: T): Promise<void> {
    try {
      this.stmts.insert.run(kind, id, name, JSON.stringify(doc));
    } catch (e) {
      throw mapConstraint(e, kind, id, name);
    }
    this.tell([{ kind, id, op: 'put' }]);
  }

  async update<T>(kind: Kind, id: string, mutate: (cur: T) => T): Promise<T> {
    const out = this.db.transaction(() => {
      const row = this.stmts.get.get(kind, id);
      if (!row) throw notFound(`${kind} ${id}`);
      const next = mutate(JSON.parse(row.doc) as T);
      this.stmts.setDoc.run(JSON.stringify(next), kind, id);
      return next;
    }).immediate();
    this.tell([{ kind, id, op: 'put' }]);
    return out;
  }

  async delete(kind: Kind, id: string): Promise<void> {
    if (this.stmts.del.run(kind, id).changes) this.tell([{ kind, id, op: 'delete' }]);
  }

  async batch(ops: WriteOp[]): Promise<void> {
    this.db.transaction(() => {
      for (const o of ops) {
        if (o.op === 'delete') this.stmts.del.run(o.kind, o.id);
        else {
          try {
            this.stmts.upsert.run(o.kind, o.id, o.name ?? null, JSON.stringify(o.doc));
          } catch (e) {
            throw mapConstraint(e, o.kind, o.id, o.name ?? null);
          }
        }
      }
    }).immediate();
    this.tell(ops.map((o) => ({ kind: o.kind, id: o.id, op: o.op })));
  }

  watch(listener: (c: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** After the commit: a listener that throws is its own problem, never the writer's. */
  private tell(changes: Change[]): void {
    for (const c of changes) {
      for (const l of this.listeners) {
        try {
          l(c);
        } catch {
          // ignored
        }
      }
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.db.close();
  }
}

function mapConstraint(e: unknown, kind: Kind, id: string, name: string | null): unknown {
  const code = (e as { code?: string }).code ?? '';
  if (!code.startsWith('SQLITE_CONSTRAINT')) return e;
  const msg = String((e as Error).message);
  if (msg.includes('docs.name') && name) return conflict(`${kind} name "${name}" is already in use`);
  return conflict(`${kind} ${id} already exists`);
}
