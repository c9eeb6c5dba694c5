/**
 * `docker run --rm busybox true` through Hull's Docker socket, beside
 * `podman run --rm` and, where Debian's docker.io is unpacked (set-up with
 * HULL_SETUP_BENCH=1), real dockerd, all from the same run: the first
 * impression a docker user gets. dockerd runs on its own data root and
 * socket with --iptables=false --bridge=none, so it never touches the
 * host's firewall (Hull's networks rely on it); without a bridge it can only
 * run --network none, so that column is the one to compare with it.
 *
 * Runs are interleaved round-robin, in a fresh order each round, so drift on
 * a shared machine hits every variant alike. The goal (issue 12, part 6):
 * the docker CLI against Hull at most half of `podman run --rm`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BenchDaemon, Podman, REPO, busyboxRootfs, exec, killUnder, log, mustExec, onInterrupt, ratio, sleep, stats, table, unmountUnder, version, type Stats } from './lib.js';

export interface DockerRunResult {
  runs: number;
  clients: { docker: string; dockerd?: string; podman: string };
  variants: Record<string, { label: string; stats: Stats }>;
  ratios: Array<{ name: string; value: number; goal?: string; met?: boolean }>;
  notes: string[];
}

interface Variant {
  key: string;
  label: string;
  run: () => Promise<number>;
}

const PEERS = join(REPO, 'build', 'peers', 'docker.io');
/** The docker client: the one on PATH, else Debian's 20.10 from build/peers. */
const DOCKER = spawnSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).stdout.trim() || join(PEERS, 'docker');

export async function dockerRunBench(o: { runs: number }): Promise<DockerRunResult> {
  const notes: string[] = [];
  const work = await mkdtemp('/tmp/hbdk-');
  const unregister = onInterrupt(() => rm(work, { recursive: true, force: true }));
  let daemon: BenchDaemon | undefined;
  let podman: Podman | undefined;
  let peer: Dockerd | undefined;
  try {
    daemon = await BenchDaemon.start(['--docker-socket', '{root}/d.sock']);
    const hullSock = join(daemon.root, 'd.sock');
    const rootfs = join(work, 'rootfs');
    await busyboxRootfs(rootfs);
    if (Podman.available()) podman = await Podman.setup(join(work, 'podman'), rootfs);
    else notes.push('podman is not installed: no podman rows (npm run bench installs it).');
    if (existsSync(join(PEERS, 'dockerd'))) peer = await Dockerd.start(join(work, 'dockerd'), rootfs).catch((e: unknown) => (notes.push(`dockerd did not start: ${(e as Error).message}`), undefined));
    else notes.push('dockerd is not unpacked (HULL_SETUP_BENCH=1 npm run setup puts Debian\'s docker.io in build/peers): no dockerd rows.');

    const docker = (sock: string, args: string[]) => timed(DOCKER, ['-H', `unix://${sock}`, ...args]);
    const variants: Variant[] = [
      { key: 'dockerHull', label: 'docker run --rm busybox true → Hull (default network)', run: () => docker(hullSock, ['run', '--rm', 'busybox', 'true']) },
      { key: 'dockerHullNone', label: 'docker run --rm --network none busybox true → Hull', run: () => docker(hullSock, ['run', '--rm', '--network', 'none', 'busybox', 'true']) },
      { key: 'hull', label: 'hull run --rm busybox true (Hull\'s own CLI)', run: async () => check(await daemon!.cli(['run', '--rm', 'busybox', 'true'])) },
    ];
    if (podman) {
      const p = podman;
      variants.push({ key: 'podman', label: 'podman run --rm busybox true (default network)', run: async () => check(await p.run(['run', '--rm', 'hullbench-busybox', 'true'])) });
      variants.push({ key: 'podmanNone', label: 'podman run --rm --network none busybox true', run: async () => check(await p.run(['run', '--rm', '--network', 'none', 'hullbench-busybox', 'true'])) });
    }
    if (peer) {
      const s = peer.sock;
      variants.push({ key: 'dockerd', label: 'docker run --rm --network none busybox true → dockerd', run: () => docker(s, ['run', '--rm', '--network', 'none', 'busybox', 'true']) });
    }
    const samples = new Map<string, number[]>(variants.map((v) => [v.key, []]));
    for (const v of variants) await v.run(); // warm-up: caches, the first run's set-up
    for (let round = 0; round < o.runs; round++) {
      for (const v of shuffled(variants, round)) {
        await sleep(50);
        samples.get(v.key)!.push(await v.run());
      }
    }
    const out: DockerRunResult['variants'] = {};
    for (const v of variants) out[v.key] = { label: v.label, stats: stats(samples.get(v.key)!) };
    const med = (k: string) => out[k]?.stats.median ?? NaN;
    const ratios: DockerRunResult['ratios'] = [];
    if (podman) {
      const goal = (name: string, a: string, b: string) => {
        const value = ratio(med(a), med(b));
        ratios.push({ name, value, goal: '≤ 0.5', met: value <= 0.5 });
      };
      goal('docker → Hull / podman run --rm (default networks)', 'dockerHull', 'podman');
      goal('docker → Hull / podman run --rm (--network none)', 'dockerHullNone', 'podmanNone');
    }
    if (peer) ratios.push({ name: 'docker → Hull / docker → dockerd (--network none)', value: ratio(med('dockerHullNone'), med('dockerd')) });
    ratios.push({ name: 'docker → Hull / hull run (the Docker API\'s overhead)', value: ratio(med('dockerHull'), med('hull')) });
    return { runs: o.runs, clients: { docker: version(DOCKER, ['--version']), ...(peer ? { dockerd: version(join(PEERS, 'dockerd'), ['--version']) } : {}), podman: version('podman') }, variants: out, ratios, notes };
  } finally {
    await peer?.stop();
    await podman?.destroy();
    await daemon?.destroy();
    unregister();
    await rm(work, { recursive: true, force: true });
  }
}

async function timed(file: string, args: string[]): Promise<number> {
  return check(await exec(file, args, { timeoutMs: 60_000 }));
}

function check(r: { code: number; stderr: string; stdout: string; ms: number }): number {
  if (r.code !== 0) throw new Error(`a run exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 400)}`);
  return r.ms;
}

/** A fresh order each round (seeded by the round, so a rerun is the same). */
function shuffled<T>(xs: T[], round: number): T[] {
  const out = [...xs];
  let seed = (round + 1) * 2654435761;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Debian's dockerd on a root and socket of its own, never the host's firewall. */
class Dockerd {
  private constructor(
    readonly dir: string,
    readonly sock: string,
    private proc: ChildProcess,
    private unregister: () => void,
  ) {}

  static async start(dir: string, rootfs: string): Promise<Dockerd> {
    await mustExec('mkdir', ['-p', dir]);
    const sock = join(dir, 'docker.sock');
    const env = { ...process.env, PATH: `${PEERS}:${process.env.PATH}` };
    const args = ['--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none', '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'x'), '--pidfile', join(dir, 'pid'), '-H', `unix://${sock}`];
    const proc = spawn(join(PEERS, 'dockerd'), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    proc.stdout!.on('data', (b: Buffer) => (logs = (logs + b.toString()).slice(-4000)));
    proc.stderr!.on('data', (b: Buffer) => (logs = (logs + b.toString()).slice(-4000)));
    const d = new Dockerd(dir, sock, proc, () => undefined);
    d.unregister = onInterrupt(() => d.stop());
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null) throw new Error(`dockerd exited: ${logs}`);
      if ((await exec(DOCKER, ['-H', `unix://${sock}`, 'version'], { timeoutMs: 5000 }).catch(() => ({ code: 1 }))).code === 0) break;
      if (i > 200) throw new Error(`dockerd did not answer: ${logs}`);
      await sleep(100);
    }
    await mustExec('sh', ['-c', `tar -C '${rootfs}' -c . | '${DOCKER}' -H unix://${sock} import - busybox`], { timeoutMs: 120_000 });
    log(`dockerd ${version(join(PEERS, 'dockerd'), ['--version'])} on ${sock}`);
    return d;
  }

  async stop(): Promise<void> {
    this.unregister();
    const d = `'${DOCKER}' -H unix://${this.sock}`;
    await exec('sh', ['-c', `${d} ps -aq | xargs -r ${d} rm -f`], { evenIfInterrupted: true, timeoutMs: 60_000 }).catch(() => undefined);
    if (this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
    await killUnder(this.dir);
    await unmountUnder(this.dir);
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

export function printDockerRun(r: DockerRunResult): string {
  const rows = Object.values(r.variants).map((v) => [v.label, v.stats.median, v.stats.p90, v.stats.min, v.stats.n]);
  const lines = [
    `docker run --rm (${r.runs} runs each, interleaved; ms; ${r.clients.docker}${r.clients.dockerd ? `; ${r.clients.dockerd}` : ''}; ${r.clients.podman})`,
    table(['variant', 'median', 'p90', 'min', 'n'], rows),
    '',
    ...r.ratios.map((x) => `${x.name}: ${x.value}${x.goal ? ` (goal ${x.goal}: ${x.met ? 'met' : 'NOT met'})` : ''}`),
    ...r.notes.map((n) => `note: ${n}`),
  ];
  return lines.join('\n');
}

/** `npm run bench docker-run` (BENCH_RUNS runs of each, default 20). */
export async function dockerRunBenchmark(): Promise<{ result: DockerRunResult; text: string }> {
  const runs = Number(process.env.BENCH_RUNS) || 20;
  const result = await dockerRunBench({ runs });
  return { result, text: printDockerRun(result) };
}
