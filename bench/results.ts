/**
 * Stored benchmark results: one file per benchmark, bench/results/<name>.json,
 * written only by a run of that benchmark and holding where its figures come
 * from: the date, the commit (with a flag for uncommitted changes to the code
 * that was measured) and the host. A run of one benchmark never rewrites
 * another's file, so no figure is ever shown under a commit or date it was
 * not measured at.
 *
 *   const entry = resultEntry('start', result, { date, seconds, provenance: provenance(), host: machine() });
 *   await writeResult(RESULTS_DIR, entry);
 *   const all = await readResults(RESULTS_DIR);   // by benchmark name
 *
 * bench/report.ts renders these into docs/performance.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Provenance {
  /** `git rev-parse HEAD` (short), or null where it was not recorded. */
  commit: string | null;
  /** Uncommitted changes to what is measured (src, bench, guest, scripts, bin, package files) at run time; null: not recorded. */
  dirty: boolean | null;
}

export interface ResultEntry extends Provenance {
  benchmark: string;
  /** When the run started (ISO 8601, UTC). */
  date: string;
  /** How long the benchmark took. */
  seconds?: number;
  /** The host as bench/lib.ts's machine() saw it (null: not recorded). */
  host: Record<string, unknown> | null;
  /** The benchmark's own result object (what its print function takes); absent when it failed. */
  result?: unknown;
  /** Why the run failed; a failed run is stored as such, with its commit and date. */
  error?: string;
  /** Where an entry not written by bench/run.ts came from. */
  note?: string;
}

/** What a run measured: the commit checked out and whether the measured code differed from it. */
export function provenance(repo: string): Provenance {
  const head = spawnSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) return { commit: null, dirty: null };
  const paths = ['src', 'bench', 'guest', 'scripts', 'bin', 'package.json', 'package-lock.json', 'tsconfig.json', ':!bench/results'];
  const st = spawnSync('git', ['-C', repo, 'status', '--porcelain', '--', ...paths], { encoding: 'utf8' });
  return { commit: head.stdout.trim(), dirty: st.status === 0 ? st.stdout.trim() !== '' : null };
}

export function resultEntry(
  benchmark: string,
  outcome: { result: unknown } | { error: string },
  o: { date: string; seconds?: number; provenance: Provenance; host: Record<string, unknown> | null },
): ResultEntry {
  return { benchmark, date: o.date, commit: o.provenance.commit, dirty: o.provenance.dirty, seconds: o.seconds, host: o.host, ...outcome };
}

const NAME = /^[a-z][a-z0-9-]*$/;

export const resultFile = (dir: string, benchmark: string): string => {
  if (!NAME.test(benchmark)) throw new Error(`bad benchmark name "${benchmark}"`);
  return join(dir, `${benchmark}.json`);
};

/** Replace this benchmark's file (and only it), atomically. */
export async function writeResult(dir: string, e: ResultEntry): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = resultFile(dir, e.benchmark);
  await writeFile(`${file}.tmp`, `${JSON.stringify(e, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
  return file;
}

/** Every stored result, by benchmark; a file that is not a result entry is an error, not skipped. */
export async function readResults(dir: string): Promise<Map<string, ResultEntry>> {
  const out = new Map<string, ResultEntry>();
  const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  for (const f of names) {
    const e = JSON.parse(await readFile(join(dir, f), 'utf8')) as ResultEntry;
    if (`${e.benchmark}.json` !== f || typeof e.date !== 'string' || !('commit' in e) || !('dirty' in e)) {
      throw new Error(`${join(dir, f)}: not a result entry (benchmark, date, commit and dirty are required; the file is named after its benchmark)`);
    }
    out.set(e.benchmark, e);
  }
  return out;
}

/** "062be75", "20dee41 + uncommitted changes", "commit not recorded". */
export function describeCommit(p: Provenance): string {
  if (!p.commit) return 'commit not recorded';
  if (p.dirty === null) return `${p.commit} (uncommitted changes not recorded)`;
  return p.dirty ? `${p.commit} + uncommitted changes` : p.commit;
}
