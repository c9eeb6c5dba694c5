/**
 * Logs, beside podman (conmon's k8s-file log with --log-opt max-size, which
 * truncates to one file) from the same run:
 *
 *   flood   a container running `yes` for a while: the most its log's files
 *           ever held on disk (sampled every few ms, each inode once), how
 *           many files, and how long the daemon takes to answer meanwhile
 *   tail    `logs --tail 1` of a ~700 MB log (one file), end to end through
 *           the CLI, and `logs` of all of it
 */
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BenchDaemon, HULL_BIN, Podman, busyboxRootfs, exec, log, now, onInterrupt, sleep, stats, table, type Stats } from './lib.js';

export interface LogsResult {
  flood: Record<string, { seconds: number; maxBytes: number; boundBytes: number; maxFiles: number; pingMs?: Stats }>;
  tail: Record<string, { logBytes: number; tailMs: Stats; allMs: number; allBytes: number }>;
}

const MiB = 1024 * 1024;
const num = (v: string | undefined, dflt: number) => (v && Number.isFinite(Number(v)) ? Number(v) : dflt);
const BIG = 'yes hello-world-this-is-a-log-line | head -c 300000000; echo LAST';

/** The most the files named `prefix*` in `dir` held at once, sampled until `until`. */
async function sampleDisk(dir: string, prefix: string, until: number): Promise<{ maxBytes: number; maxFiles: number }> {
  let maxBytes = 0;
  let maxFiles = 0;
  while (now() < until) {
    const inodes = new Map<number, number>();
    for (const n of await readdir(dir).catch(() => [] as string[])) {
      if (!n.startsWith(prefix)) continue;
      const st = await lstat(join(dir, n)).catch(() => undefined);
      if (st?.size) inodes.set(st.ino, st.size);
    }
    maxBytes = Math.max(maxBytes, [...inodes.values()].reduce((a, b) => a + b, 0));
    maxFiles = Math.max(maxFiles, inodes.size);
    await sleep(3);
  }
  return { maxBytes, maxFiles };
}

async function hullFlood(d: BenchDaemon, seconds: number) {
  const { id } = await d.api.call<{ id: string }>('POST', '/v1/containers', { image: 'busybox', cmd: ['yes', 'a chatty container fills the disk'], logConfig: { maxSize: 20 * MiB, maxFile: 5 } });
  await d.api.call('POST', `/v1/containers/${id}/start`);
  const until = now() + seconds * 1000;
  const pings: number[] = [];
  const pinger = (async () => {
    while (now() < until) {
      const t = now();
      await d.api.request('GET', '/_ping');
      pings.push(now() - t);
      await sleep(100);
    }
  })();
  const disk = await sampleDisk(join(d.root, 'containers', id), 'ctr.log', until);
  await pinger;
  await d.api.call('DELETE', `/v1/containers/${id}?force=1`);
  return { seconds, ...disk, boundBytes: 100 * MiB, pingMs: stats(pings) };
}

async function podmanFlood(p: Podman, seconds: number) {
  const id = (await p.run(['run', '-d', '--log-driver', 'k8s-file', '--log-opt', 'max-size=20m', 'hullbench-busybox', 'yes', 'a chatty container fills the disk'])).stdout.trim();
  const path = (await p.run(['inspect', '-f', '{{.HostConfig.LogConfig.Path}}', id])).stdout.trim();
  const dir = path.slice(0, path.lastIndexOf('/'));
  const disk = await sampleDisk(dir, path.slice(dir.length + 1), now() + seconds * 1000);
  await p.run(['rm', '-f', '-t', '0', id]);
  return { seconds, ...disk, boundBytes: 20 * MiB };
}

async function timeCli(argv: string[], runs: number): Promise<{ ms: Stats; bytes: number }> {
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const r = await exec(argv[0], argv.slice(1), { timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
    ms.push(r.ms);
    bytes = Buffer.byteLength(r.stdout);
  }
  return { ms: stats(ms), bytes };
}

async function hullTail(d: BenchDaemon, runs: number) {
  const { id } = await d.api.call<{ id: string }>('POST', '/v1/containers', { image: 'busybox', cmd: ['sh', '-c', BIG], logConfig: { maxSize: 4096 * MiB, maxFile: 1 } });
  await d.api.call('POST', `/v1/containers/${id}/start`);
  await d.api.call('POST', `/v1/containers/${id}/wait`);
  const logBytes = (await lstat(join(d.root, 'containers', id, 'ctr.log'))).size;
  const cli = [process.execPath, HULL_BIN, '-H', d.host, 'logs'];
  const tail = await timeCli([...cli, '--tail', '1', id], runs);
  const t = now();
  const all = await exec('sh', ['-c', `'${cli.join("' '")}' ${id} | wc -c`], { timeoutMs: 600_000 });
  return { logBytes, tailMs: tail.ms, allMs: Math.round(now() - t), allBytes: Number(all.stdout.trim()) };
}

async function podmanTail(p: Podman, runs: number) {
  const id = (await p.run(['run', '-d', '--log-driver', 'k8s-file', 'hullbench-busybox', 'sh', '-c', BIG])).stdout.trim();
  await p.run(['wait', id], 600_000);
  const path = (await p.run(['inspect', '-f', '{{.HostConfig.LogConfig.Path}}', id])).stdout.trim();
  const logBytes = (await lstat(path)).size;
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push((await p.run(['logs', '--tail', '1', id], 600_000)).ms);
  const t = now();
  const all = await exec('sh', ['-c', `podman logs ${id} | wc -c`], { env: p.env, timeoutMs: 600_000 });
  await p.run(['rm', '-f', id]);
  return { logBytes, tailMs: stats(ms), allMs: Math.round(now() - t), allBytes: Number(all.stdout.trim()) };
}

export async function logsBenchmark(): Promise<{ result: LogsResult; text: string }> {
  const seconds = num(process.env.BENCH_FLOOD_SECONDS, 20);
  const runs = num(process.env.BENCH_RUNS, 5);
  const d = await BenchDaemon.start();
  const work = await mkdtemp('/tmp/hb-logs-');
  const unregister = onInterrupt(() => rm(work, { recursive: true, force: true }));
  let podman: Podman | undefined;
  try {
    if (Podman.available()) {
      await busyboxRootfs(join(work, 'rootfs'));
      podman = await Podman.setup(join(work, 'podman'), join(work, 'rootfs'));
    }
    const result: LogsResult = { flood: {}, tail: {} };
    log('logs: flood (hull)');
    result.flood.hull = await hullFlood(d, seconds);
    if (podman) {
      log('logs: flood (podman)');
      result.flood.podman = await podmanFlood(podman, seconds);
    }
    log('logs: tail (hull)');
    result.tail.hull = await hullTail(d, runs);
    if (podman) {
      log('logs: tail (podman)');
      result.tail.podman = await podmanTail(podman, runs);
    }
    return { result, text: printLogs(result) };
  } finally {
    await podman?.destroy();
    await d.destroy();
    await rm(work, { recursive: true, force: true });
    unregister();
  }
}

export function printLogs(r: LogsResult): string {
  const mb = (b: number) => (b / MiB).toFixed(1);
  const flood = table(
    ['flood (yes)', 'seconds', 'bound MiB', 'max MiB', 'max files', 'ping median ms', 'ping max ms'],
    Object.entries(r.flood).map(([k, v]) => [k, v.seconds, mb(v.boundBytes), mb(v.maxBytes), v.maxFiles, v.pingMs?.median ?? NaN, v.pingMs?.max ?? NaN]),
  );
  const tail = table(
    ['big log', 'log MiB', 'tail 1 median ms', 'tail 1 p90 ms', 'all ms', 'all MiB out'],
    Object.entries(r.tail).map(([k, v]) => [k, mb(v.logBytes), v.tailMs.median, v.tailMs.p90, v.allMs, mb(v.allBytes)]),
  );
  return `logs\n${flood}\n\n${tail}`;
}

