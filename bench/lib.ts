/**
 * Shared helpers for `npm run bench`: a private Hull daemon on a temp root,
 * an in-process API client over the unix socket, timing, statistics, and the
 * peers' set-up (a bare OCI bundle, podman under a private config).
 *
 * Benchmarks print Hull beside its peer from the same run, as ratios; they
 * never pass or fail on a time.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/bench/). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HULL_BIN = join(REPO, 'bin', 'hull');

export const now = () => performance.now();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

// ---------------------------------------------------------------- statistics

export interface Stats {
  n: number;
  median: number;
  p90: number;
  min: number;
  max: number;
  mean: number;
}

export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 10) / 10;
  return {
    n: s.length,
    median: r(quantile(s, 0.5)),
    p90: r(quantile(s, 0.9)),
    min: r(s[0] ?? NaN),
    max: r(s[s.length - 1] ?? NaN),
    mean: r(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
  };
}

export const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? Math.round((a / b) * 100) / 100 : NaN);

// ---------------------------------------------------------------- processes

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a program to completion; `ms` is wall time from spawn to exit. */
export function exec(file: string, args: string[], opts: SpawnOptions & { input?: string; timeoutMs?: number; evenIfInterrupted?: boolean } = {}): Promise<ExecResult> {
  if (interrupted && !opts.evenIfInterrupted) return Promise.reject(new Error('interrupted'));
  return new Promise((resolvePromise, reject) => {
    const t0 = now();
    const p = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    p.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr, ms: now() - t0 });
    });
    if (p.stdin) {
      p.stdin.on('error', () => undefined); // a program that exits without reading its stdin
      p.stdin.end(opts.input ?? '');
    }
  });
}

/** exec, insisting on exit 0. */
export async function mustExec(file: string, args: string[], opts: SpawnOptions & { input?: string; timeoutMs?: number; evenIfInterrupted?: boolean } = {}): Promise<ExecResult> {
  const r = await exec(file, args, opts);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}

export function version(cmd: string, args = ['--version']): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !r.stdout) return 'not installed';
  return (r.stdout || r.stderr).split('\n')[0].trim();
}

// ---------------------------------------------------------------- /proc

export function meminfoKiB(field: string): number {
  const m = readFileSync('/proc/meminfo', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) : NaN;
}

/** VmRSS of a process in KiB (NaN when it is gone). */
export function rssKiB(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Proportional set size in KiB: shared pages divided among their users. */
export function pssKiB(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

export type CgroupMode = 'v2' | 'hybrid' | 'v1';

/** The same rule Hull uses: cgroup2 at /sys/fs/cgroup is v2; cgroup2 at .../unified beside v1 is hybrid. */
export function cgroupMode(): CgroupMode {
  let unified = false;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const mp = pre.split(' ')[4];
    const fs = post.split(' ')[0];
    if (fs === 'cgroup2' && mp === '/sys/fs/cgroup') return 'v2';
    if (fs === 'cgroup2' && mp === '/sys/fs/cgroup/unified') unified = true;
  }
  return unified ? 'hybrid' : 'v1';
}

/** Unmount, deepest first, everything mounted at or under `dir` (what a crashed run may leave). */
export async function unmountUnder(dir: string): Promise<void> {
  const mps = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((mp): mp is string => !!mp && (mp === dir || mp.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const mp of mps) await exec('umount', ['-l', mp], { evenIfInterrupted: true }).catch(() => undefined);
}

/** The host a benchmark ran on (the commit is in its result entry: bench/results.ts). */
export function machine() {
  return {
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '',
    memTotalMiB: Math.round(os.totalmem() / 2 ** 20),
    kernel: os.release(),
    cgroupMode: cgroupMode(),
    node: process.version,
    crun: version('crun'),
    runc: version('runc'),
    conmon: version('conmon'),
    podman: version('podman'),
  };
}

// ---------------------------------------------------------------- the API

export interface ApiResponse<T> {
  status: number;
  body: T;
}

/** In-process HTTP over the daemon's unix socket, keep-alive, as the CLI's client does. */
export class Api {
  readonly agent = new http.Agent({ keepAlive: true });
  constructor(readonly socketPath: string) {}

  request<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { Host: 'hull' };
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolvePromise, reject) => {
      const req = http.request({ socketPath: this.socketPath, method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: unknown = text;
          if ((res.headers['content-type'] ?? '').includes('json') && text) parsed = JSON.parse(text);
          resolvePromise({ status: res.statusCode ?? 0, body: parsed as T });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Like request, but a status >= 400 throws. */
  async call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    if (interrupted) throw new Error('interrupted');
    const r = await this.request<T>(method, path, body);
    if (r.status >= 400) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** POST with Upgrade: tcp (attach); resolves with the raw stream after 101. */
  upgrade(path: string): Promise<Duplex> {
    return new Promise((resolvePromise, reject) => {
      const req = http.request({
        socketPath: this.socketPath,
        method: 'POST',
        path,
        headers: { Host: 'hull', Connection: 'Upgrade', Upgrade: 'tcp' },
        agent: false,
      });
      req.on('upgrade', (_res, socket) => resolvePromise(socket));
      req.on('response', (res) => {
        res.resume();
        reject(new Error(`POST ${path}: HTTP ${res.statusCode} instead of 101`));
      });
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Follows GET /v1/events and stamps each event with the local time it
 * arrived, so a benchmark can tell when the daemon created, started, saw the
 * exit of, and destroyed a container.
 */
export class EventLog {
  private seen = new Map<string, number>(); // `${id} ${type}` → arrival time
  /** Ids in the order their `create` event arrived. */
  readonly created: string[] = [];
  private waiters = new Map<string, Array<(t: number) => void>>();
  private req?: http.ClientRequest;

  constructor(readonly socketPath: string) {}

  start(): Promise<void> {
    return new Promise((resolvePromise, reject) => {
      this.req = http.request({ socketPath: this.socketPath, method: 'GET', path: '/v1/events', headers: { Host: 'hull' }, agent: false }, (res) => {
        let buf = '';
        res.on('data', (c: Buffer) => {
          const t = now();
          buf += c.toString();
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!line.trim()) continue;
            try {
              // docker's shape: Action, and Actor.ID (the id of a container or VM).
              const ev = JSON.parse(line) as { Action: string; Actor: { ID: string } };
              const key = `${ev.Actor.ID} ${ev.Action}`;
              if (!this.seen.has(key)) this.seen.set(key, t);
              if (ev.Action === 'create') this.created.push(ev.Actor.ID);
              for (const w of this.waiters.get(key) ?? []) w(t);
              this.waiters.delete(key);
            } catch {
              /* not an event */
            }
          }
        });
        res.on('error', () => undefined);
        resolvePromise();
      });
      this.req.on('error', reject);
      // The daemon sends no headers until the first event: give it a moment to subscribe, then go on.
      this.req.on('finish', () => setTimeout(resolvePromise, 250));
      this.req.end();
    });
  }

  at(id: string, type: string): number | undefined {
    return this.seen.get(`${id} ${type}`);
  }

  /** Resolves with the arrival time of event `type` for `id`, or undefined after timeoutMs. */
  wait(id: string, type: string, timeoutMs = 15_000): Promise<number | undefined> {
    const key = `${id} ${type}`;
    const t = this.seen.get(key);
    if (t !== undefined) return Promise.resolve(t);
    return new Promise((resolvePromise) => {
      const timer = setTimeout(() => resolvePromise(undefined), timeoutMs);
      const list = this.waiters.get(key) ?? [];
      list.push((at) => {
        clearTimeout(timer);
        resolvePromise(at);
      });
      this.waiters.set(key, list);
    });
  }

  forget(id: string): void {
    for (const k of [...this.seen.keys()]) if (k.startsWith(`${id} `)) this.seen.delete(k);
  }

  stop(): void {
    this.req?.destroy();
  }
}

// ---------------------------------------------------------------- the daemon

export interface DaemonInfo {
  defaultRuntime: string;
  cgroupMode: string;
  daemonPid: number;
  daemonRss: number;
  version: string;
  [k: string]: unknown;
}

/** A Hull daemon of our own on a temp root (≤ 24 characters, the daemon's limit for its socket paths). */
export class BenchDaemon {
  proc?: ChildProcess;
  logs = '';
  readonly socket: string;
  readonly host: string;
  api: Api;
  private unregister?: () => void;
  private daemonArgs: string[] = [];

  private constructor(readonly root: string) {
    this.socket = join(root, 's.sock');
    this.host = `unix://${this.socket}`;
    this.api = new Api(this.socket);
  }

  /** `daemonArgs`: more `hull daemon` flags, `{root}` standing for the root (--docker-socket {root}/d.sock). */
  static async start(daemonArgs: string[] = []): Promise<BenchDaemon> {
    const root = await mkdtemp('/tmp/hb-');
    if (root.length > 24) throw new Error(`temp root ${root} is longer than 24 characters`);
    const d = new BenchDaemon(root);
    d.daemonArgs = daemonArgs.map((a) => a.replaceAll('{root}', root));
    d.unregister = onInterrupt(() => d.destroy());
    try {
      await d.spawn();
    } catch (e) {
      await d.destroy();
      throw e;
    }
    return d;
  }

  private async spawn(): Promise<void> {
    const proc = spawn(process.execPath, [HULL_BIN, '-H', this.host, 'daemon', '--root', this.root, ...this.daemonArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HULL_LOG_LEVEL: process.env.HULL_LOG_LEVEL ?? 'warn', HULL_DASHBOARD: 'off' },
    });
    this.proc = proc;
    const keep = (b: Buffer) => {
      this.logs += b.toString();
      if (this.logs.length > 200_000) this.logs = this.logs.slice(-100_000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const deadline = now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`hull daemon exited (${proc.exitCode}): ${this.logs.slice(-2000)}`);
      if (now() > deadline) throw new Error(`hull daemon did not become ready: ${this.logs.slice(-2000)}`);
      const ok = await this.api.request('GET', '/_ping').then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return;
      await sleep(50);
    }
  }

  info(): Promise<DaemonInfo> {
    return this.api.call<DaemonInfo>('GET', '/v1/info');
  }

  /** Spawn the CLI against this daemon (node bin/hull -H ... args). */
  cli(args: string[], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    return exec(process.execPath, [HULL_BIN, '-H', this.host, ...args], { timeoutMs: opts.timeoutMs ?? 120_000 });
  }

  /** Every container, removed with force through the API. */
  async removeAll(): Promise<number> {
    // Its own connections: this also runs on an interrupt, when the benchmark's may be mid-request.
    const api = new Api(this.socket);
    try {
      const r = await api.request<Array<{ id: string }>>('GET', '/v1/containers?all=1');
      if (r.status !== 200) throw new Error(`GET /v1/containers: HTTP ${r.status}`);
      const all = r.body;
      let i = 0;
      const worker = async () => {
        while (i < all.length) {
          const c = all[i++];
          await api.request('DELETE', `/v1/containers/${c.id}?force=1`).catch(() => undefined);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      return all.length;
    } finally {
      api.close();
    }
  }

  /** Remove all containers, stop the daemon, unmount and delete the root. Never throws. */
  async destroy(): Promise<void> {
    this.unregister?.();
    const p = this.proc;
    if (p && p.exitCode === null) {
      // Twice: a create that was in flight when we listed may land after.
      for (let i = 0; i < 2; i++) {
        await this.removeAll().catch((e) => log(`cleanup: removing containers failed: ${e}`));
        if (i === 0) await sleep(500);
      }
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    this.api.close();
    // Whatever conmon is still supervising under our root (a failed run): kill it.
    await killUnder(this.root);
    await unmountUnder(this.root);
    await rm(this.root, { recursive: true, force: true }).catch((e) => log(`cleanup: rm ${this.root}: ${e}`));
  }
}

/**
 * Kill what a failed run left under `dir`: processes whose command line
 * names it (conmon, the runtime), and container processes whose root
 * directory lies in it.
 */
export async function killUnder(dir: string): Promise<void> {
  const { readdirSync, readlinkSync } = await import('node:fs');
  for (const ent of readdirSync('/proc')) {
    if (!/^\d+$/.test(ent) || Number(ent) === process.pid) continue;
    let cmd = '';
    let root = '';
    try {
      cmd = readFileSync(`/proc/${ent}/cmdline`, 'utf8');
      root = readlinkSync(`/proc/${ent}/root`);
    } catch {
      continue;
    }
    // Our temp dir is unique: whatever names it on its command line (conmon, a runtime) or lives in it (a container) is ours.
    if (!cmd.includes(`${dir}/`) && !root.startsWith(`${dir}/`)) continue;
    try {
      process.kill(Number(ent), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

// ---------------------------------------------------------------- cleanup on a signal

const cleanups = new Set<() => Promise<void>>();
/** Set on SIGINT/SIGTERM: benchmark calls (Api.call, exec) fail from then on, so the benchmark stops making things while they are cleaned up. */
let interrupted = false;

/** Register a clean-up that must run even when the bench is interrupted; returns its remover. */
export function onInterrupt(fn: () => Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Run every registered clean-up (on SIGINT/SIGTERM). */
export async function runCleanups(): Promise<void> {
  interrupted = true;
  for (const fn of [...cleanups].reverse()) await fn().catch(() => undefined);
  cleanups.clear();
}

// ---------------------------------------------------------------- peers

/**
 * The rootfs of Hull's own built-in busybox image (build/images/busybox,
 * made by `npm run setup`), unpacked into `dest`, so every peer runs the very
 * same files. Falls back to the host's static busybox if the image is absent.
 */
export async function busyboxRootfs(dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  const layout = join(REPO, 'build', 'images', 'busybox');
  const blob = (d: string) => join(layout, 'blobs', ...d.split(':'));
  if (existsSync(join(layout, 'index.json'))) {
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    const manifest = JSON.parse(await readFile(blob(index.manifests[0].digest), 'utf8'));
    for (const l of manifest.layers) await mustExec('tar', ['-xzf', blob(l.digest), '-C', dest]);
    return;
  }
  await mkdir(join(dest, 'bin'), { recursive: true });
  await mustExec('cp', ['/bin/busybox', join(dest, 'bin', 'busybox')]);
  await mustExec('chroot', [dest, '/bin/busybox', '--install', '-s', '/bin']);
}

/** An OCI bundle: the busybox rootfs and `crun spec`'s config, no terminal, running `args`. */
export async function makeBundle(dir: string, args: string[]): Promise<void> {
  await busyboxRootfs(join(dir, 'rootfs'));
  await mustExec('crun', ['spec'], { cwd: dir });
  const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  cfg.process.terminal = false;
  cfg.process.args = args;
  await writeFile(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
}

/** argv for `crun run` of a bundle; on a hybrid-cgroup host, inside a private mount namespace without the cgroup2 mount. */
export function crunRunArgv(stateRoot: string, bundle: string, id: string, mode: CgroupMode, ns?: string): [string, string[]] {
  const crun = ['crun', '--root', stateRoot, 'run', '--bundle', bundle, id];
  if (mode !== 'hybrid') return [crun[0], crun.slice(1)];
  if (ns) return ['nsenter', [`--mount=${ns}`, ...crun]];
  return ['unshare', ['-m', 'sh', '-c', `umount /sys/fs/cgroup/unified 2>/dev/null; exec ${crun.join(' ')}`]];
}

/**
 * On a hybrid host: one mount namespace without the cgroup2 mount, made once
 * (as Hull's daemon does), for bare crun to run in through `nsenter`. The
 * namespace file sits on a private bind mount under `work`; release() unmounts both.
 */
export async function crunNamespace(work: string): Promise<{ file: string; release: () => Promise<void> }> {
  const dir = join(work, 'mntns');
  const file = join(dir, 'mnt');
  await mkdir(dir, { recursive: true });
  const release = async () => {
    await exec('umount', [file], { evenIfInterrupted: true });
    await exec('umount', [dir], { evenIfInterrupted: true });
  };
  const unregister = onInterrupt(release);
  for (const args of [['--bind', dir, dir], ['--make-private', dir]]) {
    const r = await exec('mount', args);
    if (r.code !== 0) throw new Error(`mount ${args.join(' ')}: ${r.stderr.trim()}`);
  }
  await writeFile(file, '');
  const r = await exec('unshare', [`--mount=${file}`, 'umount', '/sys/fs/cgroup/unified']);
  if (r.code !== 0) throw new Error(`unshare --mount: ${r.stderr.trim()}`);
  return { file, release: async () => (unregister(), release()) };
}

/** podman, confined to a temp dir: its own containers.conf and storage.conf, as this host needs. */
export class Podman {
  readonly env: NodeJS.ProcessEnv;
  private unregister?: () => void;
  private constructor(readonly dir: string) {
    this.env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf') };
  }

  static available(): boolean {
    return spawnSync('podman', ['--version']).status === 0;
  }

  static async setup(dir: string, rootfs: string, image = 'hullbench-busybox'): Promise<Podman> {
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'containers.conf'),
      [
        '[containers]',
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = "${join(dir, 'events.log')}"`,
        'runtime = "runc"',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(dir, 'storage.conf'),
      ['[storage]', 'driver = "overlay"', `graphroot = "${join(dir, 'graph')}"`, `runroot = "${join(dir, 'run')}"`, ''].join('\n'),
    );
    const p = new Podman(dir);
    p.unregister = onInterrupt(() => p.destroy());
    await mustExec('sh', ['-c', `tar -C '${rootfs}' -c . | podman import - ${image}`], { env: p.env, timeoutMs: 120_000 });
    return p;
  }

  run(args: string[], timeoutMs = 120_000, evenIfInterrupted = false): Promise<ExecResult> {
    return exec('podman', args, { env: this.env, timeoutMs, evenIfInterrupted });
  }

  /** Remove every container and image, unmount and delete the dir. Never throws. */
  async destroy(): Promise<void> {
    this.unregister?.();
    await this.run(['rm', '-f', '-a', '-t', '0'], 300_000, true).catch(() => undefined);
    await this.run(['rmi', '-a', '-f'], 120_000, true).catch(() => undefined);
    await killUnder(this.dir);
    await unmountUnder(this.dir);
    await rm(this.dir, { recursive: true, force: true }).catch((e) => log(`cleanup: rm ${this.dir}: ${e}`));
  }
}

// ---------------------------------------------------------------- output

/** A plain text table; numbers right-aligned. */
export function table(head: string[], rows: Array<Array<string | number | null | undefined>>): string {
  // NaN (no samples) is stored as null in a result file: both print as a dash.
  const cell = (c: string | number | null | undefined) => (c === null || c === undefined || (typeof c === 'number' && Number.isNaN(c)) ? '—' : String(c));
  const cells = [head, ...rows.map((r) => r.map(cell))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(cells[0]), w.map((n) => '-'.repeat(n)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
