/**
 * `npm run bench`: Hull beside its peers, from the same run, as ratios.
 *
 *   node dist/bench/run.js                 every benchmark
 *   node dist/bench/run.js start           one or more (start | profile | density | pull | network | vm | vm-cli | logs | volumes | services | docker-run | store)
 *   BENCH_RUNS=10 BENCH_COUNT=50 ...       fewer runs / containers (a quick look)
 *
 * Each benchmark starts its own daemon on a temp root and tears it down.
 * Prints tables and writes each benchmark's result to bench/results/<name>.json
 * with its own date, commit and host (bench/results.ts): a benchmark not run
 * this time keeps its file, and its own commit and date, untouched.
 * `node dist/bench/report.js` then writes the figures into docs/performance.md.
 */
import { join } from 'node:path';
import { density, printDensity } from './density.js';
import { REPO, log, machine, now, runCleanups } from './lib.js';
import { perfAvailable, printProfile, profile } from './profile.js';
import { describeCommit, provenance, resultEntry, writeResult } from './results.js';
import { printStartLatency, startLatency } from './start-latency.js';
import { networkBenchmark } from './network.js';
import { printPull, pullBench } from './pull.js';

const num = (v: string | undefined, dflt: number) => (v && Number.isFinite(Number(v)) ? Number(v) : dflt);

const BENCHMARKS: Record<string, () => Promise<{ result: unknown; text: string }>> = {
  start: async () => {
    const result = await startLatency({ runs: num(process.env.BENCH_RUNS, 30), warmup: 2 });
    return { result, text: printStartLatency(result) };
  },
  profile: async () => {
    if (!perfAvailable()) return { result: { skipped: 'perf is not installed' }, text: 'profile: skipped (perf is not installed: apt-get install linux-perf)' };
    const result = await profile({ runs: num(process.env.BENCH_PROFILE_RUNS, 15) });
    return { result, text: printProfile(result) };
  },
  density: async () => {
    const result = await density({ count: num(process.env.BENCH_COUNT, 200), podmanBudgetMs: 180_000, podmanFallback: 50 });
    return { result, text: printDensity(result) };
  },
  pull: async () => {
    const result = await pullBench({ runs: num(process.env.BENCH_PULL_RUNS, 5), layers: 5, layerMiB: 40 });
    return { result, text: printPull(result) };
  },
  network: networkBenchmark,
  vm: async () => (await import('./vm.js')).vmBenchmark(),
  'vm-cli': async () => (await import('./vm-cli.js')).vmCliBenchmark(),
  logs: async () => (await import('./logs.js')).logsBenchmark(),
  volumes: async () => (await import('./volumes.js')).volumeBenchmark(),
  services: async () => (await import('./services.js')).servicesBenchmark(),
  'docker-run': async () => (await import('./docker-run.js')).dockerRunBenchmark(),
  store: async () => (await import('./store-etcd.js')).storeBenchmark(),
};

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: Hull and its peers need root\n');
    process.exit(1);
  }
  const picked = process.argv.slice(2);
  for (const p of picked) {
    if (!BENCHMARKS[p]) {
      process.stderr.write(`bench: unknown benchmark "${p}" (have: ${Object.keys(BENCHMARKS).join(', ')})\n`);
      process.exit(2);
    }
  }
  const names = picked.length ? picked : Object.keys(BENCHMARKS);
  // Interrupted: remove what the benchmark made (containers, daemon, mounts, temp dirs) before going.
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      log(`${sig}: cleaning up`);
      void runCleanups().finally(() => process.exit(130));
    });
  }
  const dir = join(REPO, 'bench', 'results');
  const prov = provenance(REPO);
  const m = machine();
  process.stdout.write(
    `Hull bench, ${new Date().toISOString()}\nmachine: ${m.cpus} × ${m.cpuModel}, ${m.memTotalMiB} MiB, kernel ${m.kernel}, cgroups ${m.cgroupMode}, node ${m.node}\n` +
      `peers: ${m.crun}; ${m.runc}; ${m.conmon}; ${m.podman}\nhull: ${describeCommit(prov)}; load average ${m.loadAverage.join(' ')}\n\n`,
  );
  let failed = false;
  const t0 = now();
  for (const name of names) {
    if (stopping) break;
    const t = now();
    const date = new Date().toISOString();
    const host = machine();
    log(`${name}: running`);
    let outcome: { result: unknown } | { error: string };
    try {
      const { result, text } = await BENCHMARKS[name]();
      outcome = { result };
      process.stdout.write(`${text}\n\n`);
    } catch (e) {
      failed = true;
      process.stderr.write(`bench: ${name} failed: ${(e as Error).stack ?? e}\n`);
      outcome = { error: String((e as Error).message ?? e) };
    }
    if (stopping) break; // interrupted: the benchmark's file keeps its last complete result
    const file = await writeResult(dir, resultEntry(name, outcome, { date, seconds: Math.round((now() - t) / 1000), provenance: prov, host }));
    log(`${name}: ${((now() - t) / 1000).toFixed(0)} s, ${file}`);
  }
  if (stopping) return;
  process.stdout.write(`results: ${dir}/ (${((now() - t0) / 1000).toFixed(0)} s in all); the doc: node dist/bench/report.js\n`);
  process.exit(failed ? 1 : 0);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
