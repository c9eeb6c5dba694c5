import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderResults, replaceSection } from '../bench/report.js';
import { provenance, readResults, resultEntry, writeResult } from '../bench/results.js';
import { watchForMarker } from '../bench/vm-cli.js';

const REPO = join(__dirname, '..');
const RESULTS = join(REPO, 'bench', 'results');

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hull-bench-unit-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('bench results', () => {
  it('stores each benchmark on its own, with its own commit and date; another run leaves it alone', async () => {
    const dir = join(work, 'results');
    const host = { cpus: 2 };
    await writeResult(dir, resultEntry('start', { result: { runs: 30 } }, { date: '2026-12-01T01:17:21.150Z', provenance: { commit: 'aaaaaaa', dirty: false }, host }));
    await writeResult(dir, resultEntry('vm-cli', { error: 'boom' }, { date: '2026-12-02T09:00:00.000Z', provenance: { commit: 'bbbbbbb', dirty: true }, host }));
    const all = await readResults(dir);
    expect(all.get('start')).toMatchObject({ benchmark: 'start', date: '2026-12-01T01:17:21.150Z', commit: 'aaaaaaa', dirty: false, result: { runs: 30 } });
    expect(all.get('vm-cli')).toMatchObject({ commit: 'bbbbbbb', dirty: true, error: 'boom' });
    expect((await readdir(dir)).sort()).toEqual(['start.json', 'vm-cli.json']);
  });

  it('refuses a results file that is not one benchmark with its commit and date (the old latest.json)', async () => {
    const dir = join(work, 'old');
    await mkdir(dir);
    await writeFile(join(dir, 'latest.json'), JSON.stringify({ date: 'x', machine: { hullCommit: 'c' }, benchmarks: { start: { date: 'x' } } }));
    await expect(readResults(dir)).rejects.toThrow(/not a result entry/);
  });

  it('every stored result in bench/results/ has its own commit and date', async () => {
    const files = (await readdir(RESULTS)).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    const all = await readResults(RESULTS);
    expect(all.size).toBe(files.length);
    for (const e of all.values()) {
      expect(Date.parse(e.date)).not.toBeNaN();
      // A commit not recorded must say where the entry came from.
      if (e.commit === null) expect(e.note).toMatch(/\w/);
    }
  });

  it("docs/performance.md's stored results are what bench/results/ holds (regenerate: node dist/bench/report.js)", async () => {
    const doc = await readFile(join(REPO, 'docs', 'performance.md'), 'utf8');
    expect(doc).toBe(replaceSection(doc, renderResults(await readResults(RESULTS))));
  });

  it('records the commit, and uncommitted changes to measured code, not to results or docs', async () => {
    const repo = join(work, 'repo');
    await mkdir(join(repo, 'src'), { recursive: true });
    await mkdir(join(repo, 'bench', 'results'), { recursive: true });
    await mkdir(join(repo, 'docs'));
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { stdio: 'pipe' }).toString().trim();
    git('init', '-q');
    await writeFile(join(repo, 'src', 'a.ts'), 'a\n');
    await writeFile(join(repo, 'bench', 'results', 'start.json'), '{}\n');
    await writeFile(join(repo, 'docs', 'performance.md'), 'x\n');
    git('add', '.');
    git('commit', '-qm', 'one');
    const head = git('rev-parse', '--short', 'HEAD');
    expect(provenance(repo)).toEqual({ commit: head, dirty: false });
    await writeFile(join(repo, 'bench', 'results', 'start.json'), '{"new": 1}\n');
    await writeFile(join(repo, 'docs', 'performance.md'), 'y\n');
    expect(provenance(repo)).toEqual({ commit: head, dirty: false });
    await writeFile(join(repo, 'src', 'a.ts'), 'b\n');
    expect(provenance(repo)).toEqual({ commit: head, dirty: true });
    expect(provenance(join(work, 'not-a-repo'))).toEqual({ commit: null, dirty: null });
  });
});

describe('vm-cli: the ready marker in console.log', () => {
  it('times the marker when it appears', async () => {
    let log = '';
    setTimeout(() => (log = 'boot...\nHULL_READY\n'), 30);
    const w = watchForMarker(async () => log, 'HULL_READY', performance.now(), 2);
    const at = await w.settle(500, 'never');
    expect(at).toBeGreaterThanOrEqual(25);
    expect(at).toBeLessThan(500);
  });

  it('fails the round when the marker never appears, instead of making up a time', async () => {
    const w = watchForMarker(async () => 'boot...\n', 'HULL_READY', performance.now(), 2);
    await expect(w.settle(50, 'vmn1: the ready line never reached console.log')).rejects.toThrow('vmn1: the ready line never reached console.log');
  });
});
