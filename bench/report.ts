/**
 * `node dist/bench/report.js`: the "Stored results" section of
 * docs/performance.md, written from bench/results/<name>.json, each
 * benchmark's tables under its own date, commit and host. `--check` writes
 * nothing and exits 1 when the doc and the results disagree (as
 * test/unit-bench.test.ts does).
 *
 *   node dist/bench/run.js vm-cli && node dist/bench/report.js
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { printDensity, type DensityResult } from './density.js';
import { printDockerRun, type DockerRunResult } from './docker-run.js';
import { printLogs, type LogsResult } from './logs.js';
import { REPO } from './lib.js';
import { printNetwork, type NetworkResult } from './network.js';
import { printProfile, type ProfileResult } from './profile.js';
import { printPull, type PullResult } from './pull.js';
import { describeCommit, readResults, type ResultEntry } from './results.js';
import { printStartLatency, type StartLatencyResult } from './start-latency.js';
import { printVmCli, type VmCliResult } from './vm-cli.js';
import { printVmBench, type VmBenchResult } from './vm.js';
import { printServices, type ServicesResult } from './services.js';
import { printVolumes, type VolumeBenchResult } from './volumes.js';
import { printStore, type StoreBenchResult } from './store-etcd.js';

export const BEGIN = '<!-- bench-results:begin (written by node dist/bench/report.js from bench/results/; do not edit by hand) -->';
export const END = '<!-- bench-results:end -->';

interface Section {
  name: string;
  title: string;
  source: string;
  print: (result: never) => string;
}

/** In the order bench/run.ts runs them. */
export const SECTIONS: Section[] = [
  { name: 'start', title: 'Start latency', source: 'bench/start-latency.ts', print: (r: StartLatencyResult) => printStartLatency(r) },
  { name: 'profile', title: 'Where one API run\'s time goes', source: 'bench/profile.ts', print: (r: ProfileResult | { skipped: string }) => ('skipped' in r ? `skipped: ${r.skipped}` : printProfile(r)) },
  { name: 'density', title: 'Density', source: 'bench/density.ts', print: (r: DensityResult) => printDensity(r) },
  { name: 'pull', title: 'Registry pull', source: 'bench/pull.ts', print: (r: PullResult) => printPull(r) },
  { name: 'network', title: 'Networks', source: 'bench/network.ts', print: (r: NetworkResult) => printNetwork(r) },
  { name: 'vm', title: 'VMs through the driver', source: 'bench/vm.ts', print: (r: VmBenchResult) => printVmBench(r) },
  { name: 'vm-cli', title: 'VMs through the CLI', source: 'bench/vm-cli.ts', print: (r: VmCliResult) => printVmCli(r) },
  { name: 'logs', title: 'Logs', source: 'bench/logs.ts', print: (r: LogsResult) => printLogs(r) },
  { name: 'volumes', title: 'Volumes', source: 'bench/volumes.ts', print: (r: VolumeBenchResult) => printVolumes(r) },
  { name: 'services', title: 'Services', source: 'bench/services.ts', print: (r: ServicesResult) => printServices(r) },
  { name: 'docker-run', title: "docker run through Hull's Docker socket", source: 'bench/docker-run.ts', print: (r: DockerRunResult) => printDockerRun(r) },
  { name: 'store', title: 'The store: etcd beside SQLite', source: 'bench/store-etcd.ts', print: (r: StoreBenchResult) => printStore(r) },
];

const utc = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

/** One line on where the figures come from: date, commit, host, load. */
export function provenanceLine(e: ResultEntry): string {
  const h = e.host as { cpus?: number; cpuModel?: string; memTotalMiB?: number; kernel?: string; cgroupMode?: string; node?: string; loadAverage?: number[] } | null;
  const load = h?.loadAverage ? `; load average ${h.loadAverage.join(' ')} as it started` : '; load average not recorded';
  const host = h ? `${h.cpus} × ${h.cpuModel}, ${h.memTotalMiB} MiB, Linux ${h.kernel}, cgroups ${h.cgroupMode}, Node ${h.node}${load}` : 'host not recorded';
  const took = e.seconds === undefined ? '' : `; took ${e.seconds} s`;
  return `\`bench/results/${e.benchmark}.json\`: run ${utc(e.date)}, ${e.commit ? `commit **${describeCommit(e)}**` : '**commit not recorded**'}; ${host}${took}.`;
}

function renderOne(s: Section, e: ResultEntry | undefined): string {
  const head = `### ${s.title} (\`${s.name}\`, ${s.source})\n\n`;
  if (!e) return `${head}No stored result: \`node dist/bench/run.js ${s.name}\`, then \`node dist/bench/report.js\`.\n`;
  const lines = [provenanceLine(e)];
  if (e.note) lines.push(`(${e.note}.)`);
  const body = e.error !== undefined ? `This run **failed**: ${e.error}` : `\`\`\`text\n${s.print(e.result as never)}\n\`\`\``;
  return `${head}${lines.join(' ')}\n\n${body}\n`;
}

/** The generated section, markers included. */
export function renderResults(entries: Map<string, ResultEntry>): string {
  const known = new Set(SECTIONS.map((s) => s.name));
  const unknown = [...entries.keys()].filter((k) => !known.has(k));
  if (unknown.length) throw new Error(`bench/results has results of no known benchmark: ${unknown.join(', ')}`);
  return [BEGIN, '', ...SECTIONS.map((s) => renderOne(s, entries.get(s.name))), END].join('\n');
}

/** `doc` with its generated section replaced by `section`. */
export function replaceSection(doc: string, section: string): string {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/performance.md has no generated section (the lines ${BEGIN} … ${END})`);
  return doc.slice(0, a) + section + doc.slice(b + END.length);
}

export const DOC = join(REPO, 'docs', 'performance.md');
export const RESULTS = join(REPO, 'bench', 'results');

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const doc = await readFile(DOC, 'utf8');
  const next = replaceSection(doc, renderResults(await readResults(RESULTS)));
  if (check) {
    if (next !== doc) {
      process.stderr.write('docs/performance.md does not match bench/results/: run node dist/bench/report.js\n');
      process.exit(1);
    }
    return;
  }
  if (next !== doc) await writeFile(DOC, next);
  process.stdout.write(`${DOC}: ${next === doc ? 'already up to date' : 'stored results written'}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e: unknown) => {
    process.stderr.write(`report: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
