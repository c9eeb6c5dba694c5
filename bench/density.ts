/**
 * Density: N idle containers (`busybox sleep 1d`), started through the API.
 * What each costs the host beyond its own process (MemAvailable drop, and
 * where it went: conmon, kernel slab, page tables...), the daemon's RSS
 * before and after, the time to start and to remove them; the same for
 * `podman run -d` beside it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BenchDaemon, Podman, busyboxRootfs, log, meminfoKiB, now, pssKiB, ratio, rssKiB, sleep, stats, table, type Stats, onInterrupt } from './lib.js';

export interface DensityOptions {
  count: number;
  /** The most podman may take (start + remove, projected) before it runs fewer containers. */
  podmanBudgetMs: number;
  podmanFallback: number;
}

/** /proc/meminfo fields whose change says where the memory went. */
const FIELDS = ['MemAvailable', 'MemFree', 'AnonPages', 'Cached', 'Shmem', 'Slab', 'SReclaimable', 'SUnreclaim', 'KernelStack', 'PageTables', 'Percpu'] as const;
type Mem = Record<(typeof FIELDS)[number], number>;
const readMemOnce = (): Mem => Object.fromEntries(FIELDS.map((f) => [f, meminfoKiB(f)])) as Mem;
/** Each field's median over a few reads a quarter second apart: less noise from what else runs on the machine. */
async function readMem(samples = 5): Promise<Mem> {
  const xs: Mem[] = [];
  for (let i = 0; i < samples; i++) {
    if (i) await sleep(250);
    xs.push(readMemOnce());
  }
  return Object.fromEntries(FIELDS.map((f) => [f, stats(xs.map((x) => x[f])).median])) as Mem;
}
const memDelta = (a: Mem, b: Mem): Mem => Object.fromEntries(FIELDS.map((f) => [f, b[f] - a[f]])) as Mem;

export interface DensitySide {
  count: number;
  startMs: number;
  perStartMs: Stats;
  /** Median of the first and the last tenth of the starts: growth shows cost that scales with the count. */
  firstTenthMs: number;
  lastTenthMs: number;
  removeMs: number;
  removeHow: string;
  /** KiB: MemAvailable drop / count. */
  memPerContainerKiB: number;
  /** KiB: (MemAvailable drop − the containers' own PSS) / count. */
  memBeyondOwnKiB: number;
  /**
   * KiB per container, summed from what can be attributed, so other processes
   * on the machine do not move it: conmon PSS + the daemon's RSS growth (Hull)
   * + the kernel's unreclaimable slab, percpu, page tables and kernel stacks
   * growth; the container's own PSS not included.
   */
  accountedBeyondOwnKiB: number;
  conmonRssKiB: number; // per container
  conmonPssKiB: number;
  containerRssKiB: number;
  containerPssKiB: number;
  /** Change of each /proc/meminfo field, KiB per container (MemAvailable negative = used). */
  meminfoDeltaPerContainerKiB: Mem;
  leftAfterRemove: number;
}

export interface DensityResult {
  hull: DensitySide & { daemonRssKiB: { before: number; withContainers: number; afterRemove: number } };
  podman?: DensitySide;
  ratios: Array<{ name: string; value: number; goal?: string; met?: boolean }>;
  goals: Array<{ name: string; value: string; goal: string; met: boolean }>;
  notes: string[];
}

const round = (x: number) => Math.round(x * 10) / 10;

async function procMem(pairs: Array<{ pid: number; monitor: number }>) {
  const sum = (f: (p: number) => number, pids: number[]) => pids.reduce((a, p) => a + (Number.isFinite(f(p)) ? f(p) : 0), 0);
  const mon = pairs.map((p) => p.monitor).filter((p) => p > 0);
  const ctr = pairs.map((p) => p.pid).filter((p) => p > 0);
  return { conmonRss: sum(rssKiB, mon), conmonPss: sum(pssKiB, mon), ctrRss: sum(rssKiB, ctr), ctrPss: sum(pssKiB, ctr), monitors: mon.length, containers: ctr.length };
}

/** Per container: conmon PSS + daemon growth + the kernel's own memory growth (see accountedBeyondOwnKiB). */
function accounted(n: number, conmonPss: number, daemonGrowth: number, d: Mem): number {
  return round((conmonPss + daemonGrowth + d.SUnreclaim + d.Percpu + d.PageTables + d.KernelStack) / n);
}

function tenths(xs: number[]) {
  const k = Math.max(1, Math.floor(xs.length / 10));
  return { first: stats(xs.slice(0, k)).median, last: stats(xs.slice(-k)).median };
}

export async function density(o: DensityOptions): Promise<DensityResult> {
  const notes: string[] = [];
  const work = await mkdtemp('/tmp/hbd-');
  const unregisterWork = onInterrupt(() => rm(work, { recursive: true, force: true }));
  let daemon: BenchDaemon | undefined;
  let podman: Podman | undefined;
  try {
    // ---- Hull
    daemon = await BenchDaemon.start();
    const d = daemon;
    const api = d.api;
    const info = await d.info();
    const dpid = info.daemonPid;
    // One container first, so the image is unpacked and the code paths are warm before we measure.
    const warm = await api.call<{ id: string }>('POST', '/v1/containers', { image: 'busybox', cmd: ['true'], networks: ['none'] });
    await api.call('POST', `/v1/containers/${warm.id}/start`);
    await api.call('POST', `/v1/containers/${warm.id}/wait`);
    await api.call('DELETE', `/v1/containers/${warm.id}?force=1`);
    await sleep(1000);
    const rssBefore = rssKiB(dpid);
    const mem0 = await readMem();

    // Named: Hull's random names (12 × 12 × 100) collide among 200 (HTTP 409 instead of another pick).
    const ids: string[] = [];
    const per: number[] = [];
    const t0 = now();
    for (let i = 0; i < o.count; i++) {
      const ts = now();
      const { id } = await api.call<{ id: string }>('POST', '/v1/containers', { image: 'busybox', cmd: ['sleep', '1d'], name: `hbd-${i}`, networks: ['none'] });
      ids.push(id);
      await api.call('POST', `/v1/containers/${id}/start`);
      per.push(now() - ts);
      if ((i + 1) % 50 === 0) log(`density: hull started ${i + 1}/${o.count} (${((now() - t0) / 1000).toFixed(0)} s)`);
    }
    const startMs = now() - t0;
    await sleep(2000);
    const mem1 = await readMem();
    const rssWith = rssKiB(dpid);
    const pairs: Array<{ pid: number; monitor: number }> = [];
    for (const id of ids) {
      const c = await api.call<{ state: { pid: number; conmonPid: number; status: string } }>('GET', `/v1/containers/${id}`);
      if (c.state.status !== 'running') notes.push(`hull container ${id.slice(0, 12)} is ${c.state.status}, not running`);
      pairs.push({ pid: c.state.pid, monitor: c.state.conmonPid });
    }
    const pm = await procMem(pairs);

    const tr = now();
    const rmRes = await d.cli(['rm', '-f', ...ids], { timeoutMs: 600_000 });
    const removeMs = now() - tr;
    if (rmRes.code !== 0) notes.push(`hull rm -f exited ${rmRes.code}: ${rmRes.stderr.trim().slice(0, 300)}`);
    await sleep(1000);
    const left = (await api.call<unknown[]>('GET', '/v1/containers?all=1')).length;
    const rssAfter = rssKiB(dpid);

    const n = o.count;
    const delta = memDelta(mem0, mem1);
    const drop = -delta.MemAvailable;
    const t = tenths(per);
    const hull: DensityResult['hull'] = {
      count: n,
      startMs: Math.round(startMs),
      perStartMs: stats(per),
      firstTenthMs: t.first,
      lastTenthMs: t.last,
      removeMs: Math.round(removeMs),
      removeHow: `hull rm -f <${n} ids> (one CLI process)`,
      memPerContainerKiB: round(drop / n),
      memBeyondOwnKiB: round((drop - pm.ctrPss) / n),
      accountedBeyondOwnKiB: accounted(n, pm.conmonPss, rssWith - rssBefore, delta),
      conmonRssKiB: round(pm.conmonRss / n),
      conmonPssKiB: round(pm.conmonPss / n),
      containerRssKiB: round(pm.ctrRss / n),
      containerPssKiB: round(pm.ctrPss / n),
      meminfoDeltaPerContainerKiB: Object.fromEntries(Object.entries(delta).map(([k, v]) => [k, round(v / n)])) as Mem,
      leftAfterRemove: left,
      daemonRssKiB: { before: rssBefore, withContainers: rssWith, afterRemove: rssAfter },
    };
    log(`density: hull ${n} containers: ${hull.memPerContainerKiB} KiB each, started in ${(startMs / 1000).toFixed(1)} s, removed in ${(removeMs / 1000).toFixed(1)} s`);
    await daemon.destroy();
    daemon = undefined;

    // ---- podman
    let pod: DensitySide | undefined;
    if (!Podman.available()) {
      notes.push('podman is not installed: no peer figures (npm run bench installs it through HULL_SETUP_BENCH=1).');
    } else {
      const rootfs = join(work, 'rootfs');
      await busyboxRootfs(rootfs);
      podman = await Podman.setup(join(work, 'podman'), rootfs);
      const p = podman;
      // Warm up the same way: one container run and removed before measuring.
      await p.run(['run', '--rm', '--network', 'none', 'hullbench-busybox', 'true']);
      await sleep(1000);
      const pm0 = await readMem();
      const pids: string[] = [];
      const pper: number[] = [];
      let target = n;
      const pt0 = now();
      for (let i = 0; i < target; i++) {
        const r = await p.run(['run', '-d', '--network', 'none', 'hullbench-busybox', 'sleep', '1d']);
        if (r.code !== 0) throw new Error(`podman run -d exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
        pids.push(r.stdout.trim());
        pper.push(r.ms);
        if (i === 9 && target > o.podmanFallback) {
          // Project: the starts so far, and removal at about half a start each (podman removes in parallel).
          const projected = ((now() - pt0) / 10) * target * 1.5;
          if (projected > o.podmanBudgetMs) {
            target = o.podmanFallback;
            notes.push(`podman: ${n} containers would take about ${Math.round(projected / 1000)} s (over the ${o.podmanBudgetMs / 1000} s budget), so podman ran ${target}; per-container figures compare, totals do not.`);
          }
        }
        if ((i + 1) % 50 === 0) log(`density: podman started ${i + 1}/${target} (${((now() - pt0) / 1000).toFixed(0)} s)`);
      }
      const pStart = now() - pt0;
      await sleep(2000);
      const pm1 = await readMem();
      const insp = await p.run(['inspect', '--format', '{{.State.Pid}} {{.State.ConmonPid}}', ...pids]);
      const ppairs = insp.stdout
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/).map(Number))
        .map(([pid, monitor]) => ({ pid: pid ?? 0, monitor: monitor ?? 0 }));
      const ppm = await procMem(ppairs);
      const ptr = now();
      const prm = await p.run(['rm', '-f', '-t', '0', ...pids], 600_000);
      const pRemove = now() - ptr;
      if (prm.code !== 0) notes.push(`podman rm -f exited ${prm.code}: ${prm.stderr.trim().slice(0, 300)}`);
      const pleft = (await p.run(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean).length;
      const pd = memDelta(pm0, pm1);
      const pdrop = -pd.MemAvailable;
      const pt = tenths(pper);
      pod = {
        count: target,
        startMs: Math.round(pStart),
        perStartMs: stats(pper),
        firstTenthMs: pt.first,
        lastTenthMs: pt.last,
        removeMs: Math.round(pRemove),
        removeHow: `podman rm -f -t 0 <${target} ids> (one process)`,
        memPerContainerKiB: round(pdrop / target),
        memBeyondOwnKiB: round((pdrop - ppm.ctrPss) / target),
        accountedBeyondOwnKiB: accounted(target, ppm.conmonPss, 0, pd),
        conmonRssKiB: round(ppm.conmonRss / target),
        conmonPssKiB: round(ppm.conmonPss / target),
        containerRssKiB: round(ppm.ctrRss / target),
        containerPssKiB: round(ppm.ctrPss / target),
        meminfoDeltaPerContainerKiB: Object.fromEntries(Object.entries(pd).map(([k, v]) => [k, round(v / target)])) as Mem,
        leftAfterRemove: pleft,
      };
      log(`density: podman ${target} containers: ${pod.memPerContainerKiB} KiB each, started in ${(pStart / 1000).toFixed(1)} s, removed in ${(pRemove / 1000).toFixed(1)} s`);
    }

    notes.push(
      "Hull's containers are started through the API (create + start, one after another); podman's through `podman run -d`, one process each, so podman's per-start time includes its CLI start. Both run with --network none (Hull's default network would add a network namespace and a veth pair per container).",
    );
    const MiB = 1024;
    for (const [who, side] of [['hull', hull], ['podman', pod]] as const) {
      if (!side) continue;
      const a = side.accountedBeyondOwnKiB;
      const m = side.memBeyondOwnKiB;
      if (Math.abs(m - a) > Math.max(0.3 * a, 200)) {
        notes.push(
          `${who}: the MemAvailable figure (${m} KiB) and the accounted one (${a} KiB) disagree by more than 30%: other processes on this shared machine changed free memory or the page cache while it was measured (MemAvailable moved by ${round((side.meminfoDeltaPerContainerKiB.MemAvailable * side.count) / MiB)} MiB in all for ${side.count} containers). The accounted figure does not depend on them.`,
        );
      }
    }
    const goals = [
      { name: 'host memory per container beyond its own process (MemAvailable)', value: `${round(hull.memBeyondOwnKiB / MiB)} MiB`, goal: '≤ 2 MiB', met: hull.memBeyondOwnKiB <= 2 * MiB },
      { name: 'the same, accounted (conmon PSS + daemon growth + kernel)', value: `${round(hull.accountedBeyondOwnKiB / MiB)} MiB`, goal: '≤ 2 MiB', met: hull.accountedBeyondOwnKiB <= 2 * MiB },
      { name: `daemon RSS with ${n} containers`, value: `${round(hull.daemonRssKiB.withContainers / MiB)} MiB`, goal: '< 150 MiB', met: hull.daemonRssKiB.withContainers < 150 * MiB },
    ];
    const ratios = pod
      ? [
          { name: 'memory per container (MemAvailable), hull / podman', value: ratio(hull.memPerContainerKiB, pod.memPerContainerKiB) },
          { name: 'memory per container (accounted), hull / podman', value: ratio(hull.accountedBeyondOwnKiB, pod.accountedBeyondOwnKiB) },
          { name: 'start time per container (median), hull API / podman run -d', value: ratio(hull.perStartMs.median, pod.perStartMs.median) },
          { name: 'remove time per container, hull / podman', value: ratio(hull.removeMs / hull.count, pod.removeMs / pod.count) },
        ]
      : [];
    return { hull, podman: pod, ratios, goals, notes };
  } finally {
    if (daemon) await daemon.destroy();
    if (podman) await podman.destroy();
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    unregisterWork();
  }
}

export function printDensity(r: DensityResult): string {
  const h = r.hull;
  const p = r.podman;
  const MiB = (k: number) => (Number.isFinite(k) ? round(k / 1024) : NaN);
  const row = (label: string, f: (s: DensitySide) => number | string): Array<string | number> => [label, f(h), p ? f(p) : '—'];
  const lines: string[] = [];
  lines.push(`Density: ${h.count} idle containers (busybox sleep 1d)${p && p.count !== h.count ? `; podman ran ${p.count}` : ''}`);
  lines.push(
    table(
      ['per container unless said', 'hull', 'podman'],
      [
        row('containers', (s) => s.count),
        row('host memory (MemAvailable drop), KiB', (s) => s.memPerContainerKiB),
        row("  beyond the container's own process, KiB", (s) => s.memBeyondOwnKiB),
        row("accounted beyond its own process, KiB", (s) => s.accountedBeyondOwnKiB),
        row('  conmon RSS, KiB', (s) => s.conmonRssKiB),
        row('  conmon PSS, KiB', (s) => s.conmonPssKiB),
        row('  container process RSS, KiB', (s) => s.containerRssKiB),
        row('  container process PSS, KiB', (s) => s.containerPssKiB),
        row('  kernel slab (unreclaimable), KiB', (s) => s.meminfoDeltaPerContainerKiB.SUnreclaim),
        row('  kernel slab (reclaimable), KiB', (s) => s.meminfoDeltaPerContainerKiB.SReclaimable),
        row('  percpu, KiB', (s) => s.meminfoDeltaPerContainerKiB.Percpu),
        row('  page tables + kernel stacks, KiB', (s) => round(s.meminfoDeltaPerContainerKiB.PageTables + s.meminfoDeltaPerContainerKiB.KernelStack)),
        row('  anonymous memory, KiB', (s) => s.meminfoDeltaPerContainerKiB.AnonPages),
        row('  page cache (incl. shmem/tmpfs), KiB', (s) => s.meminfoDeltaPerContainerKiB.Cached),
        row('time to start all, s', (s) => round(s.startMs / 1000)),
        row('  one start, median ms', (s) => s.perStartMs.median),
        row('  one start, p90 ms', (s) => s.perStartMs.p90),
        row('  first tenth / last tenth, median ms', (s) => `${s.firstTenthMs} / ${s.lastTenthMs}`),
        row('time to remove all, s', (s) => round(s.removeMs / 1000)),
        row('left after remove', (s) => s.leftAfterRemove),
      ],
    ),
  );
  lines.push(`hull daemon RSS: ${MiB(h.daemonRssKiB.before)} MiB before, ${MiB(h.daemonRssKiB.withContainers)} MiB with ${h.count} containers, ${MiB(h.daemonRssKiB.afterRemove)} MiB after removing them`);
  lines.push('');
  lines.push(table(['goal', 'hull', 'goal', 'met'], r.goals.map((g) => [g.name, g.value, g.goal, g.met ? 'yes' : 'NO'])));
  if (r.ratios.length) {
    lines.push('');
    lines.push(table(['ratio', 'value'], r.ratios.map((x) => [x.name, x.value])));
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
