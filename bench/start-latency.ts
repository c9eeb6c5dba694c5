/**
 * Start latency: `hull run --rm busybox true`, end to end, beside bare crun,
 * bare runc and `podman run --rm` of the same rootfs, plus the pieces that
 * tell where the CLI's time goes (node's own start, the CLI without a daemon
 * call, the CLI with one trivial call, the API calls alone).
 *
 * Runs are interleaved round-robin (every round in a fresh, seeded order, with
 * a short pause before each run) so that drift on a shared machine, and what
 * one variant leaves running in the background, hit every variant alike.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BenchDaemon,
  EventLog,
  HULL_BIN,
  Podman,
  cgroupMode,
  crunNamespace,
  crunRunArgv,
  exec,
  log,
  makeBundle,
  now,
  onInterrupt,
  ratio,
  sleep,
  stats,
  table,
  type Stats,
} from './lib.js';

export interface StartLatencyOptions {
  runs: number;
  warmup: number;
}

interface Sample {
  ms: number;
  parts?: Record<string, number>;
}

interface Variant {
  key: string;
  label: string;
  run: (i: number) => Promise<Sample>;
}

export interface StartLatencyResult {
  runs: number;
  hull: { defaultRuntime: string; cgroupMode: string; version: string };
  variants: Record<string, { label: string; stats: Stats; parts?: Record<string, Stats> }>;
  ratios: Array<{ name: string; hull: string; peer: string; value: number; goal?: string; met?: boolean }>;
  notes: string[];
}

/** A pause before each run, so what a previous run left in the background (podman's cleanup, conmon exiting) settles first. */
const SETTLE_MS = 50;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

const BUSYBOX_TRUE = { image: 'busybox', cmd: ['true'], autoRemove: true };

export async function startLatency(o: StartLatencyOptions): Promise<StartLatencyResult> {
  const mode = cgroupMode();
  const work = await mkdtemp('/tmp/hbs-');
  const unregisterWork = onInterrupt(() => rm(work, { recursive: true, force: true }));
  let daemon: BenchDaemon | undefined;
  let podman: Podman | undefined;
  let events: EventLog | undefined;
  let crunNs: Awaited<ReturnType<typeof crunNamespace>> | undefined;
  const notes: string[] = [];
  try {
    if (mode === 'hybrid') crunNs = await crunNamespace(work);
    const ns = crunNs?.file;
    daemon = await BenchDaemon.start();
    const d = daemon;
    const info = await d.info();
    log(`start latency: hull daemon pid ${info.daemonPid}, runtime ${info.defaultRuntime}, cgroups ${info.cgroupMode}`);
    events = new EventLog(d.socket);
    await events.start();
    const ev = events;
    const api = d.api;

    const bundle = join(work, 'bundle');
    await makeBundle(bundle, ['true']);
    const hullBundles = await hullConfigBundles(d, work, join(bundle, 'rootfs'), mode, ns).catch((e) => {
      notes.push(`could not copy Hull's config.json for the bare-crun-with-Hull's-config rows: ${(e as Error).message}`);
      return undefined;
    });
    if (Podman.available()) podman = await Podman.setup(join(work, 'podman'), join(bundle, 'rootfs'));
    else notes.push('podman is not installed: the podman rows are missing (npm run bench installs it through HULL_SETUP_BENCH=1).');

    const check = (what: string, r: { code: number; stderr: string; stdout: string }) => {
      if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
    };

    /** Wait for the background --rm removal, so it never overlaps the next variant's run. */
    const removed = async (id: string | undefined, t0: number): Promise<number> => {
      if (!id) return NaN;
      const t = await ev.wait(id, 'destroy', 15_000);
      ev.forget(id);
      return t === undefined ? NaN : t - t0;
    };

    const variants: Variant[] = [
      {
        key: 'node',
        label: 'node -e 0 (node start)',
        run: async () => {
          const r = await exec(process.execPath, ['-e', '0']);
          check('node -e 0', r);
          return { ms: r.ms };
        },
      },
      {
        key: 'cliHelp',
        label: 'hull --help (CLI start, no daemon call)',
        run: async () => {
          const r = await exec(process.execPath, [HULL_BIN, '--help']);
          check('hull --help', r);
          return { ms: r.ms };
        },
      },
      {
        key: 'cliVersion',
        label: 'hull version (CLI + one trivial API call)',
        run: async () => {
          const r = await d.cli(['version']);
          check('hull version', r);
          return { ms: r.ms };
        },
      },
      {
        key: 'cli',
        label: 'hull run --rm busybox true (CLI, default network)',
        run: async () => {
          const before = ev.created.length;
          const t0 = now();
          const r = await d.cli(['run', '--rm', 'busybox', 'true']);
          check('hull run --rm busybox true', r);
          const id = ev.created.length > before ? ev.created[ev.created.length - 1] : undefined;
          return { ms: r.ms, parts: { removed: await removed(id, t0) } };
        },
      },
      {
        // As podman's row runs: no network.
        key: 'cliNone',
        label: 'hull run --rm --network none busybox true (CLI)',
        run: async () => {
          const before = ev.created.length;
          const t0 = now();
          const r = await d.cli(['run', '--rm', '--network', 'none', 'busybox', 'true']);
          check('hull run --rm --network none busybox true', r);
          const id = ev.created.length > before ? ev.created[ev.created.length - 1] : undefined;
          return { ms: r.ms, parts: { removed: await removed(id, t0) } };
        },
      },
      {
        key: 'api',
        label: 'API: create, wait, start (no attach)',
        run: async () => {
          const t0 = now();
          const { id } = await api.call<{ id: string }>('POST', '/v1/containers', BUSYBOX_TRUE);
          const t1 = now();
          const waiting = api.call<{ exitCode: number }>('POST', `/v1/containers/${id}/wait?condition=next-exit`);
          await api.call('POST', `/v1/containers/${id}/start`);
          const t2 = now();
          const { exitCode } = await waiting;
          const t3 = now();
          if (exitCode !== 0) throw new Error(`API run exited ${exitCode}`);
          const die = await ev.wait(id, 'die', 2000);
          return {
            ms: t3 - t0,
            parts: { create: t1 - t0, start: t2 - t1, exit: t3 - t2, dieEvent: die === undefined ? NaN : die - t0, removed: await removed(id, t0) },
          };
        },
      },
      {
        key: 'apiAttach',
        label: "API: create, wait, attach, start (the CLI's calls)",
        run: async () => {
          const t0 = now();
          const { id } = await api.call<{ id: string }>('POST', '/v1/containers', BUSYBOX_TRUE);
          const t1 = now();
          const waiting = api.call<{ exitCode: number }>('POST', `/v1/containers/${id}/wait?condition=next-exit`);
          const sock = await api.upgrade(`/v1/containers/${id}/attach?stdin=0`);
          const closed = new Promise((r) => sock.once('close', r));
          sock.resume();
          const t2 = now();
          await api.call('POST', `/v1/containers/${id}/start`);
          const t3 = now();
          const { exitCode } = await waiting;
          const t4 = now();
          await Promise.race([closed, sleep(1000)]);
          const t5 = now();
          sock.destroy();
          if (exitCode !== 0) throw new Error(`API run exited ${exitCode}`);
          return {
            ms: t5 - t0,
            parts: { create: t1 - t0, attach: t2 - t1, start: t3 - t2, exit: t4 - t3, streamEnd: t5 - t4, removed: await removed(id, t0) },
          };
        },
      },
      {
        key: 'apiRunc',
        label: 'API: create, wait, start, with runtime runc',
        run: async () => {
          const t0 = now();
          const { id } = await api.call<{ id: string }>('POST', '/v1/containers', { ...BUSYBOX_TRUE, runtime: 'runc' });
          const waiting = api.call<{ exitCode: number }>('POST', `/v1/containers/${id}/wait?condition=next-exit`);
          await api.call('POST', `/v1/containers/${id}/start`);
          const { exitCode } = await waiting;
          const t1 = now();
          if (exitCode !== 0) throw new Error(`API (runc) run exited ${exitCode}`);
          return { ms: t1 - t0, parts: { removed: await removed(id, t0) } };
        },
      },
      {
        key: 'crun',
        label: `bare crun run${mode === 'hybrid' ? ' (nsenter into a ready mount ns, cgroup2 unmounted)' : ''}`,
        run: async (i) => {
          const [file, args] = crunRunArgv(join(work, 'crun-state'), bundle, `hbc-${process.pid}-${i}`, mode, ns);
          const r = await exec(file, args);
          check('crun run', r);
          return { ms: r.ms };
        },
      },
      ...(mode === 'hybrid'
        ? [
            {
              key: 'crunUnshare',
              label: 'bare crun run (unshare -m + umount cgroup2 each run)',
              run: async (i: number) => {
                const [file, args] = crunRunArgv(join(work, 'crun-state'), bundle, `hbu-${process.pid}-${i}`, mode);
                const r = await exec(file, args);
                check('crun run (unshare)', r);
                return { ms: r.ms };
              },
            },
          ]
        : []),
      ...(hullBundles
        ? [
            {
              key: 'crunHullCfg',
              label: "bare crun run, Hull's config.json (seccomp compiled each run)",
              run: async (i: number) => {
                const [file, args] = crunRunArgv(join(work, 'crun-state'), hullBundles.plain, `hbh-${process.pid}-${i}`, mode, ns);
                const r = await exec(file, args);
                check("crun run (Hull's config)", r);
                return { ms: r.ms };
              },
            },
            {
              key: 'crunHullCfgBpf',
              label: "bare crun run, Hull's config.json + precompiled seccomp",
              run: async (i: number) => {
                const [file, args] = crunRunArgv(join(work, 'crun-state'), hullBundles.bpf, `hbb-${process.pid}-${i}`, mode, ns);
                const r = await exec(file, args);
                check("crun run (Hull's config, precompiled seccomp)", r);
                return { ms: r.ms };
              },
            },
          ]
        : []),
      {
        key: 'runc',
        label: 'bare runc run',
        run: async (i) => {
          const r = await exec('runc', ['--root', join(work, 'runc-state'), 'run', '--bundle', bundle, `hbr-${process.pid}-${i}`]);
          check('runc run', r);
          return { ms: r.ms };
        },
      },
    ];
    if (podman) {
      const p = podman;
      variants.push({
        key: 'podman',
        label: 'podman run --rm --network none (runc)',
        run: async () => {
          const r = await p.run(['run', '--rm', '--network', 'none', 'hullbench-busybox', 'true']);
          check('podman run', r);
          return { ms: r.ms };
        },
      });
    }

    const samples = new Map<string, Sample[]>(variants.map((v) => [v.key, []]));
    const total = o.warmup + o.runs;
    const t0 = now();
    const rand = mulberry32(20240601);
    for (let round = 0; round < total; round++) {
      // A fresh order every round (seeded, so runs compare): no variant always follows the same one.
      const order = shuffle([...variants], rand);
      for (const v of order) {
        await sleep(SETTLE_MS);
        const s = await v.run(round);
        if (round >= o.warmup) samples.get(v.key)!.push(s);
      }
      if ((round + 1) % 5 === 0 || round === total - 1) log(`start latency: round ${round + 1}/${total} (${((now() - t0) / 1000).toFixed(0)} s)`);
    }

    const out: StartLatencyResult['variants'] = {};
    for (const v of variants) {
      const xs = samples.get(v.key)!;
      const partNames = [...new Set(xs.flatMap((s) => Object.keys(s.parts ?? {})))];
      const parts = partNames.length
        ? Object.fromEntries(partNames.map((n) => [n, stats(xs.map((s) => s.parts?.[n] ?? NaN).filter((x) => Number.isFinite(x)))]))
        : undefined;
      out[v.key] = { label: v.label, stats: stats(xs.map((s) => s.ms)), parts };
    }

    const med = (k: string) => out[k]?.stats.median ?? NaN;
    const r = (name: string, hull: string, peer: string, goal?: number): StartLatencyResult['ratios'][number] => {
      const value = ratio(med(hull), med(peer));
      return { name, hull, peer, value, goal: goal === undefined ? undefined : `≤ ${goal}`, met: goal === undefined || Number.isNaN(value) ? undefined : value <= goal };
    };
    const ratios = [
      r('CLI / bare crun', 'cli', 'crun', 2.0),
      r('CLI (--network none) / podman (--network none)', 'cliNone', 'podman', 0.5),
      r('API / bare crun', 'api', 'crun', 1.2),
      r("API with attach (the CLI's calls) / bare crun", 'apiAttach', 'crun'),
      r('API / bare crun with unshare each run (the peer before 2026-12-01)', 'api', 'crunUnshare'),
      r("API / bare crun with Hull's config.json", 'api', 'crunHullCfg'),
      r('API on runc / bare runc', 'apiRunc', 'runc'),
      r('node start / CLI', 'node', 'cli'),
    ];
    return { runs: o.runs, hull: { defaultRuntime: info.defaultRuntime, cgroupMode: info.cgroupMode, version: info.version }, variants: out, ratios, notes };
  } finally {
    events?.stop();
    if (daemon) await daemon.destroy();
    if (podman) await podman.destroy();
    await crunNs?.release();
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    unregisterWork();
  }
}

/**
 * Two bundles that run `true` on the peers' rootfs with the config.json Hull
 * itself generated (its seccomp allow-list, masked paths, cgroup limits):
 * `plain` as is, and `bpf` with the seccomp program precompiled and handed to
 * crun through its run.oci.seccomp_bpf_data annotation (what a `crun create`
 * of that config leaves in <state>/<id>/seccomp.bpf), which shows what
 * compiling the filter on every start costs.
 */
async function hullConfigBundles(d: BenchDaemon, work: string, rootfs: string, mode: ReturnType<typeof cgroupMode>, ns: string | undefined): Promise<{ plain: string; bpf: string }> {
  const { id } = await d.api.call<{ id: string }>('POST', '/v1/containers', { image: 'busybox', cmd: ['true'] });
  try {
    await d.api.call('POST', `/v1/containers/${id}/start`);
    await d.api.call('POST', `/v1/containers/${id}/wait`);
    const cfgPath = join(d.root, 'containers', id, 'config.json');
    if (!existsSync(cfgPath)) throw new Error(`${cfgPath} not found (the driver's layout changed?)`);
    const cfg = JSON.parse(await readFile(cfgPath, 'utf8'));
    cfg.root = { path: rootfs, readonly: false };
    cfg.process.args = ['true'];
    cfg.process.terminal = false;
    // The container's network namespace and its network files go with it: a fresh namespace instead.
    cfg.mounts = (cfg.mounts ?? []).filter((m: { source?: string }) => !m.source?.startsWith(d.root));
    if (cfg.linux?.namespaces) cfg.linux.namespaces = cfg.linux.namespaces.map((n: { type: string }) => ({ type: n.type }));
    if (cfg.linux) cfg.linux.cgroupsPath = `/hullbench/${process.pid}`;
    const plain = join(work, 'bundle-hull');
    await mkdir(plain, { recursive: true });
    await writeFile(join(plain, 'config.json'), JSON.stringify(cfg));
    // Let crun compile the filter once, then keep what it produced.
    const state = join(work, 'crun-state');
    const cid = `hbx-${process.pid}`;
    const [file, args] = crunRunArgv(state, plain, cid, mode, ns);
    const created = await exec(file, args.map((a) => (a === 'run' ? 'create' : a)), { stdio: 'ignore' });
    if (created.code !== 0) throw new Error(`crun create of Hull's config exited ${created.code}`);
    const bpfData = await readFile(join(state, cid, 'seccomp.bpf')).finally(() => exec('crun', ['--root', state, 'delete', '--force', cid]));
    const bpf = join(work, 'bundle-hull-bpf');
    await mkdir(bpf, { recursive: true });
    cfg.annotations = { ...(cfg.annotations ?? {}), 'run.oci.seccomp_bpf_data': bpfData.toString('base64') };
    await writeFile(join(bpf, 'config.json'), JSON.stringify(cfg));
    return { plain, bpf };
  } finally {
    await d.api.request('DELETE', `/v1/containers/${id}?force=1`);
  }
}

export function printStartLatency(r: StartLatencyResult): string {
  const lines: string[] = [];
  lines.push(`Start latency: ${r.runs} runs each, interleaved in a shuffled order (Hull ${r.hull.version}: runtime ${r.hull.defaultRuntime}, cgroups ${r.hull.cgroupMode})`);
  lines.push(
    table(
      ['variant', 'median ms', 'p90 ms', 'min ms', 'max ms'],
      Object.values(r.variants).map((v) => [v.label, v.stats.median, v.stats.p90, v.stats.min, v.stats.max]),
    ),
  );
  const withParts = Object.values(r.variants).filter((v) => v.parts);
  if (withParts.length) {
    lines.push('');
    lines.push('Where the time goes (medians, ms; "removed" = until the --rm removal finished, from the start of the run):');
    for (const v of withParts) lines.push(`  ${v.label}: ${Object.entries(v.parts!).map(([k, s]) => `${k} ${s.median}`).join(', ')}`);
  }
  lines.push('');
  lines.push(
    table(
      ['ratio (medians)', 'value', 'goal', 'met'],
      r.ratios.map((x) => [x.name, x.value, x.goal ?? '', x.met === undefined ? '' : x.met ? 'yes' : 'NO']),
    ),
  );
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
