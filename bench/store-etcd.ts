/**
 * The daemon's store: `hull run --rm busybox true`, end to end through the
 * CLI, on a daemon whose state is in etcd (`--store etcd://…`, a one-member
 * etcd on loopback, started here) beside one on SQLite (the default), both
 * up at once, runs interleaved round by round (the order alternating), so
 * the machine's drift hits both alike. Also `hull ps -a` with 20 stopped
 * containers (a list). BENCH_STORE_RUNS sets the rounds (default 30).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { BenchDaemon, log, now, onInterrupt, ratio, sleep, stats, table, type Stats } from './lib.js';

const num = (v: string | undefined, dflt: number) => (v && Number.isFinite(Number(v)) ? Number(v) : dflt);

export interface StoreBenchResult {
  runs: number;
  etcdVersion: string;
  variants: Record<'sqlite' | 'etcd', { label: string; runMs: Stats; psMs: Stats }>;
  ratios: Array<{ name: string; value: number }>;
  errors: string[];
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

/** A one-member etcd on free loopback ports with its own data dir (as test/helpers/etcd.ts). */
async function startEtcd(): Promise<{ endpoint: string; version: string; stop: () => Promise<void> }> {
  const dir = await mkdtemp('/tmp/hb-etcd-');
  const [client, peer] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const child: ChildProcess = spawn('etcd', ['--name', 'n1', '--data-dir', join(dir, 'data'), '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint, '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `n1=${peerUrl}`, '--log-level', 'error'], { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = now() + 15_000;
  for (;;) {
    const res = await fetch(`${endpoint}/version`).catch(() => undefined);
    if (res?.ok) return { endpoint, version: ((await res.json()) as { etcdserver: string }).etcdserver, stop };
    if (child.exitCode !== null || now() > deadline) {
      await stop();
      throw new Error(`etcd did not start at ${endpoint}`);
    }
    await sleep(50);
  }
}

export async function storeBenchmark(): Promise<{ result: StoreBenchResult; text: string }> {
  const runs = num(process.env.BENCH_STORE_RUNS, 30);
  const etcd = await startEtcd();
  const unregister = onInterrupt(() => etcd.stop());
  const errors: string[] = [];
  const daemons: Partial<Record<'sqlite' | 'etcd', BenchDaemon>> = {};
  const samples = { sqlite: { run: [] as number[], ps: [] as number[] }, etcd: { run: [] as number[], ps: [] as number[] } };
  try {
    daemons.sqlite = await BenchDaemon.start(['--store', 'sqlite']);
    daemons.etcd = await BenchDaemon.start(['--store', `etcd://${etcd.endpoint.replace('http://', '')}/hull-bench`]);
    const timed = async (d: BenchDaemon, args: string[]) => {
      const t0 = now();
      const r = await d.cli(args);
      if (r.code !== 0) throw new Error(`hull ${args.join(' ')}: ${r.stderr.trim()}`);
      return now() - t0;
    };
    for (const d of Object.values(daemons)) {
      for (let i = 0; i < 20; i++) await timed(d!, ['create', '--network', 'none', 'busybox', 'true']);
      for (let i = 0; i < 2; i++) await timed(d!, ['run', '--rm', 'busybox', 'true']); // warm-up
    }
    for (let round = 0; round < runs; round++) {
      const order = round % 2 ? (['etcd', 'sqlite'] as const) : (['sqlite', 'etcd'] as const);
      for (const k of order) {
        try {
          await sleep(50);
          samples[k].run.push(await timed(daemons[k]!, ['run', '--rm', 'busybox', 'true']));
          samples[k].ps.push(await timed(daemons[k]!, ['ps', '-a', '-q']));
        } catch (e) {
          errors.push(`${k}: ${(e as Error).message}`);
        }
      }
      if ((round + 1) % 10 === 0) log(`store: round ${round + 1}/${runs}`);
    }
  } finally {
    for (const d of Object.values(daemons)) await d?.destroy();
    unregister();
    await etcd.stop();
  }
  const variants = {
    sqlite: { label: 'Hull on SQLite (<root>/hull.db)', runMs: stats(samples.sqlite.run), psMs: stats(samples.sqlite.ps) },
    etcd: { label: `Hull on etcd ${etcd.version} (loopback, one member)`, runMs: stats(samples.etcd.run), psMs: stats(samples.etcd.ps) },
  };
  const ratios = [
    { name: 'run --rm busybox true: etcd / sqlite (median)', value: ratio(variants.etcd.runMs.median, variants.sqlite.runMs.median) },
    { name: 'ps -a (20 containers): etcd / sqlite (median)', value: ratio(variants.etcd.psMs.median, variants.sqlite.psMs.median) },
  ];
  const result: StoreBenchResult = { runs, etcdVersion: etcd.version, variants, ratios, errors };
  return { result, text: printStore(result) };
}

/** The tables of a stored or fresh result (bench/report.ts writes them into docs/performance.md). */
export function printStore(r: StoreBenchResult): string {
  const rows = Object.values(r.variants).map((v) => [v.label, v.runMs.median, v.runMs.p90, v.psMs.median, v.psMs.p90]);
  return [
    `store: the CLI end to end, ms, ${r.runs} interleaved rounds`,
    table(['daemon', 'run --rm median', 'run p90', 'ps -a median', 'ps p90'], rows),
    table(['ratio', 'value'], r.ratios.map((x) => [x.name, x.value])),
    ...(r.errors.length ? [`errors: ${r.errors.slice(0, 5).join('; ')}`] : []),
  ].join('\n');
}
