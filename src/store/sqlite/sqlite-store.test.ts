import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { storeSuite } from '../store-suite.js';
import { SqliteStore } from './sqlite-store.js';

storeSuite('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hull-store-'));
  const path = join(dir, 'hull.db');
  let store = new SqliteStore(path);
  return {
    get store() {
      return store;
    },
    reopen: async () => {
      await store.close();
      return (store = new SqliteStore(path));
    },
    cleanup: async () => {
      await store.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
});

/**
 * Other processes on the same database file: the compiled store (dist/), as
 * the daemon runs it. `npm test` builds first; a bare `vitest run` needs
 * `npm run build` after a change to sqlite-store.ts.
 */
describe('SqliteStore across processes', () => {
  const src = fileURLToPath(new URL('./sqlite-store.ts', import.meta.url));
  const compiled = fileURLToPath(new URL('../../../dist/src/store/sqlite/sqlite-store.js', import.meta.url));
  let dir: string;
  let db: string;

  beforeAll(() => {
    if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run npm run build`);
    if (statSync(compiled).mtimeMs < statSync(src).mtimeMs) throw new Error(`${compiled} is older than its source: run npm run build`);
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hull-store-'));
    db = join(dir, 'hull.db');
    const s = new SqliteStore(db);
    await s.create('meta', 'counter', null, { n: 0 });
    await s.close();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * A writer that increments the counter and prints each value once the
   * update has returned. With moveTag, every tenth it moves a named tag in a
   * batch, so exactly one tag exists whenever a batch is all-or-nothing (one
   * writer only: reading the tag and moving it are two steps).
   */
  const writer = (iterations: number, moveTag: boolean) => `
    const { SqliteStore } = await import(${JSON.stringify(compiled)});
    const s = new SqliteStore(process.argv[1]);
    for (let i = 0; i < ${iterations}; i++) {
      const d = await s.update('meta', 'counter', (d) => ({ ...d, n: d.n + 1, pad: 'x'.repeat((d.n + 1) % 4000) }));
      if (${moveTag} && d.n % 10 === 0) {
        const prev = (await s.list('tag'))[0];
        await s.batch([
          ...(prev ? [{ op: 'delete', kind: 'tag', id: prev.id }] : []),
          { op: 'put', kind: 'tag', id: 't' + d.n, name: 'current', doc: { id: 't' + d.n, n: d.n } },
        ]);
      }
      process.stdout.write(d.n + '\\n');
    }
    await s.close();
  `;

  function run(iterations: number, moveTag: boolean) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', writer(iterations, moveTag), db], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    /** The last value the child printed on a whole line: acknowledged. */
    const acked = () => {
      const lines = out.split('\n').slice(0, -1);
      return lines.length ? Number(lines[lines.length - 1]) : 0;
    };
    return { child, exited, acked, stderr: () => err };
  }

  const until = async (cond: () => boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  it('stays consistent when a writer is killed with SIGKILL mid-writes', async () => {
    let lastAcked = 0;
    for (let round = 0; round < 3; round++) {
      const w = run(1_000_000, true);
      await until(() => w.acked() > lastAcked + 50 + round * 100 || w.child.exitCode !== null);
      expect(w.child.exitCode, w.stderr()).toBeNull();
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
      w.child.kill('SIGKILL');
      const { signal } = await w.exited;
      expect(signal, w.stderr()).toBe('SIGKILL');
      lastAcked = w.acked();

      const raw = new Database(db);
      expect(raw.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      raw.close();
      const s = new SqliteStore(db);
      const counter = await s.get<{ n: number; pad: string }>('meta', 'counter');
      expect(counter!.n).toBeGreaterThanOrEqual(lastAcked);
      expect(counter!.pad).toBe('x'.repeat(counter!.n % 4000));
      const tags = await s.list<{ id: string; n: number }>('tag');
      expect(tags).toHaveLength(1);
      expect(await s.getByName('tag', 'current')).toEqual(tags[0]);
      await s.close();
      lastAcked = counter!.n;
    }
  });

  it('loses no update when two processes write at once', async () => {
    const a = run(300, false);
    const b = run(300, false);
    const [ea, eb] = await Promise.all([a.exited, b.exited]);
    expect(ea.code, a.stderr()).toBe(0);
    expect(eb.code, b.stderr()).toBe(0);
    const s = new SqliteStore(db);
    expect((await s.get<{ n: number }>('meta', 'counter'))?.n).toBe(600);
    await s.close();
  });
});
