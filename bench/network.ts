/**
 * Networks: what a Hull network costs, beside the same server without one.
 *
 *   throughput   one large download (curl) from busybox httpd: on the host
 *                directly, in a container through its published port on
 *                127.0.0.1 (DNAT + masquerade + veth), and straight to the
 *                container's address (veth only)
 *   conn rate    new TCP connections per second (wrk; busybox httpd closes
 *                each connection, so every request is a new one), same servers
 *   start        `hull run --rm busybox true` on the default network beside
 *                `--network none`: the time joining a network adds
 *
 * Variants are interleaved round by round, so drift hits them alike.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BenchDaemon, exec, log, onInterrupt, ratio, sleep, stats, table, version, type Stats } from './lib.js';

export interface NetworkResult {
  fileMiB: number;
  /** How long each wrk round ran (BENCH_NET_SECONDS, default 3). */
  connSeconds?: number;
  throughputMiBps: Record<'host' | 'published' | 'direct', Stats>;
  connPerSec: Record<string, number>;
  startMs: Record<'none' | 'bridge', Stats>;
  ratios: Array<{ name: string; value: number }>;
  notes: string[];
}

const num = (v: string | undefined, dflt: number) => (v && Number.isFinite(Number(v)) ? Number(v) : dflt);
const HTTPD_SCRIPT = (mib: number) => `dd if=/dev/zero of=/tmp/big bs=1M count=${mib} 2>/dev/null; echo ok > /tmp/small; exec httpd -f -p 80 -h /tmp`;

async function download(url: string): Promise<number> {
  const r = await exec('curl', ['-s', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', url], { timeoutMs: 60_000 });
  const [bytes, secs] = r.stdout.trim().split(' ').map(Number);
  if (r.code !== 0 || !(bytes > 0)) throw new Error(`curl ${url}: exit ${r.code} ${r.stderr}`);
  return bytes / 1048576 / secs;
}

async function connRate(url: string, seconds: number): Promise<number> {
  const r = await exec('wrk', ['-t1', '-c4', `-d${seconds}s`, url], { timeoutMs: (seconds + 30) * 1000 });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  if (r.code !== 0 || !m) throw new Error(`wrk ${url}: exit ${r.code} ${r.stderr || r.stdout}`);
  return Math.round(Number(m[1]));
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await exec('curl', ['-s', '-o', '/dev/null', '-m', '1', url])).code === 0) return;
    await sleep(100);
  }
  throw new Error(`${url} did not answer`);
}

export async function networkBench(o: { runs: number; fileMiB: number; connSeconds: number; startRuns: number }): Promise<NetworkResult> {
  const notes: string[] = [];
  const work = await mkdtemp('/tmp/hbn-');
  const unregister = onInterrupt(() => rm(work, { recursive: true, force: true }));
  const base = 30000 + Math.floor(Math.random() * 2000);
  const [hostPort, pubPort] = [base, base + 1];
  let d: BenchDaemon | undefined;
  const host = spawn('busybox', ['httpd', '-f', '-p', `127.0.0.1:${hostPort}`, '-h', work], { stdio: 'ignore' });
  try {
    await exec('dd', ['if=/dev/zero', `of=${join(work, 'big')}`, 'bs=1M', `count=${o.fileMiB}`]);
    await writeFile(join(work, 'small'), 'ok\n');
    d = await BenchDaemon.start();
    const run = await d.cli(['run', '-d', '--name', 'netbench', '-p', `127.0.0.1:${pubPort}:80`, 'busybox', 'sh', '-c', HTTPD_SCRIPT(o.fileMiB)]);
    if (run.code !== 0) throw new Error(`hull run: ${run.stderr}`);
    const inspect = JSON.parse((await d.cli(['inspect', 'netbench'])).stdout)[0];
    const ip = inspect.config.networks[0].ipAddress as string;
    const urls = { host: `http://127.0.0.1:${hostPort}`, published: `http://127.0.0.1:${pubPort}`, direct: `http://${ip}:80` };
    for (const u of Object.values(urls)) await waitHttp(`${u}/small`);
    while ((await exec('curl', ['-s', '-o', '/dev/null', '-w', '%{size_download}', `${urls.published}/big`])).stdout !== String(o.fileMiB * 1048576)) await sleep(200);

    log(`network: throughput, ${o.runs} rounds of a ${o.fileMiB} MiB download`);
    const tp: Record<'host' | 'published' | 'direct', number[]> = { host: [], published: [], direct: [] };
    for (let i = 0; i < o.runs; i++) for (const k of ['host', 'published', 'direct'] as const) tp[k].push(await download(`${urls[k]}/big`));

    log(`network: connection rate, ${o.runs} rounds of ${o.connSeconds} s each`);
    const connPerSec: Record<string, number> = {};
    if (version('wrk', ['--version']) === 'not installed') notes.push('wrk is not installed: no connection rates (npm run bench installs it).');
    else {
      const rates: Record<string, number[]> = { host: [], published: [], direct: [] };
      for (let i = 0; i < o.runs; i++) for (const k of ['host', 'published', 'direct'] as const) rates[k].push(await connRate(`${urls[k]}/small`, o.connSeconds));
      for (const k of Object.keys(rates)) connPerSec[k] = stats(rates[k]).median;
    }

    log(`network: start, ${o.startRuns} rounds of run --rm with and without a network`);
    const st: Record<'none' | 'bridge', number[]> = { none: [], bridge: [] };
    for (let i = 0; i < o.startRuns + 2; i++) {
      for (const k of ['none', 'bridge'] as const) {
        const r = await d.cli(['run', '--rm', ...(k === 'none' ? ['--network', 'none'] : []), 'busybox', 'true']);
        if (r.code !== 0) throw new Error(`hull run --rm: ${r.stderr}`);
        if (i >= 2) st[k].push(r.ms); // two warm-up rounds
        await sleep(50);
      }
    }
    const throughputMiBps = { host: stats(tp.host), published: stats(tp.published), direct: stats(tp.direct) };
    const startMs = { none: stats(st.none), bridge: stats(st.bridge) };
    const ratios = [
      { name: 'throughput published / host', value: ratio(throughputMiBps.published.median, throughputMiBps.host.median) },
      { name: 'throughput direct / host', value: ratio(throughputMiBps.direct.median, throughputMiBps.host.median) },
      { name: 'conn/s published / host', value: ratio(connPerSec.published, connPerSec.host) },
      { name: 'start bridge / none', value: ratio(startMs.bridge.median, startMs.none.median) },
    ];
    return { fileMiB: o.fileMiB, connSeconds: o.connSeconds, throughputMiBps, connPerSec, startMs, ratios, notes };
  } finally {
    host.kill('SIGKILL');
    await d?.destroy();
    await rm(work, { recursive: true, force: true });
    unregister();
  }
}

/** For bench/run.ts: options from the environment, result and text. */
export async function networkBenchmark(): Promise<{ result: NetworkResult; text: string }> {
  const env = process.env;
  const result = await networkBench({ runs: num(env.BENCH_NET_RUNS, 5), fileMiB: num(env.BENCH_NET_MIB, 256), connSeconds: num(env.BENCH_NET_SECONDS, 3), startRuns: num(env.BENCH_RUNS, 20) });
  return { result, text: printNetwork(result) };
}

export function printNetwork(r: NetworkResult): string {
  const tp = r.throughputMiBps;
  const c = r.connPerSec;
  const out = [
    `network: busybox httpd on the host beside the same server in a Hull container (${r.fileMiB} MiB download; medians)`,
    `conn/s: wrk -t1 -c4 for ${r.connSeconds === undefined ? '(duration not recorded)' : `${r.connSeconds} s`} per round against a 3-byte file`,
    table(
      ['server reached', 'MiB/s', 'p90', 'conn/s'],
      [
        ['host, 127.0.0.1 (no Hull)', tp.host.median, tp.host.p90, c.host ?? NaN],
        ['container, published port on 127.0.0.1', tp.published.median, tp.published.p90, c.published ?? NaN],
        ['container, its own address (veth, no NAT)', tp.direct.median, tp.direct.p90, c.direct ?? NaN],
      ],
    ),
    '',
    table(
      ['hull run --rm busybox true', 'median ms', 'p90', 'n'],
      [
        ['--network none', r.startMs.none.median, r.startMs.none.p90, r.startMs.none.n],
        ['default network (hull0)', r.startMs.bridge.median, r.startMs.bridge.p90, r.startMs.bridge.n],
        ['added by joining a network', Math.round((r.startMs.bridge.median - r.startMs.none.median) * 10) / 10, '', ''],
      ],
    ),
    '',
    table(['ratio', 'value'], r.ratios.map((x) => [x.name, x.value])),
    ...r.notes.map((n) => `note: ${n}`),
  ];
  return out.join('\n');
}
