/**
 * VMs through the real CLI (`bin/hull` against a daemon of the bench's own),
 * beside the bare qemu-system-x86_64 command line for the same kernel,
 * initramfs and disk, and beside containers, from the same run:
 *
 *   vm start     `hull vm start X` until `hull vm exec X -- true` succeeds (the agent
 *                answers: the guest is ready), with `--network none` and on the default
 *                network; beside raw QEMU (-serial stdio, same kernel + debian-min clone)
 *                until the guest's ready marker
 *   isolated     `hull run --rm --isolation vm busybox true` beside `hull run --rm busybox
 *                true` and beside raw QEMU booting the same kernel + initramfs to its
 *                first line (hull.probe=1) and powering off
 *   memory       an idle VM (QEMU's RSS, and its cgroup's usage) beside an idle container
 *                (`busybox sleep`: conmon + the process, and the container's cgroup)
 *
 * Rounds are interleaved (every variant once per round, the order reversed
 * every other round) so drift on a shared machine hits every variant alike.
 * BENCH_VM_RUNS sets the rounds (default 5); BENCH_VM_CLI_ONLY=ready runs only
 * `vm start` → exec (--network none) beside raw QEMU (the figures the 1.1 goal is about).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chooseAccel, type AccelChoice } from '../src/runtime/qemu/accel.js';
import { loadGuest, READY_MARKER, type GuestArtifacts } from '../src/runtime/qemu/guest.js';
import * as qcow2 from '../src/storage/qcow2.js';
import { BenchDaemon, log, now, onInterrupt, ratio, rssKiB, sleep, stats, table, type Stats } from './lib.js';
import { qemuVersion, rawBootToReady, rawProbeBoot } from './vm.js';

const IDLE_MS = 3000;

export interface VmCliResult {
  kernelRelease: string;
  qemu: string;
  accel: AccelChoice;
  runs: number;
  variants: Record<string, { label: string; stats: Stats }>;
  memoryMiB: Record<string, { label: string; stats: Stats }>;
  ratios: Array<{ name: string; value: number; goal?: number; met?: boolean }>;
  errors: string[];
}

/** A cgroup's memory use in bytes: v2 memory.current, v1 memory.usage_in_bytes. */
async function cgroupMemory(dir: string): Promise<number> {
  for (const f of ['memory.current', 'memory.usage_in_bytes']) {
    const t = await readFile(join(dir, f), 'utf8').catch(() => '');
    if (t.trim()) return Number(t.trim());
  }
  return NaN;
}

/** The memory cgroup a process is in, as a directory (v1 `memory` line, else the v2 `0::` one). */
async function memoryCgroupOf(pid: number): Promise<string> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n');
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  if (v1) return join('/sys/fs/cgroup/memory', v1.split(':')[2]);
  const v2 = lines.find((l) => l.startsWith('0::'));
  return join('/sys/fs/cgroup', v2?.slice(3) ?? '/');
}

export async function vmCliBenchmark(): Promise<{ result: VmCliResult; text: string }> {
  const runs = Number(process.env.BENCH_VM_RUNS ?? 5) || 5;
  const guest = await loadGuest();
  const accel = await chooseAccel(guest); // what the daemon picks (the same per-boot cache)
  const work = await mkdtemp('/tmp/hvc-');
  const unregister = onInterrupt(() => rm(work, { recursive: true, force: true }));
  const d = await BenchDaemon.start();
  try {
    const result = await measure(d, guest, accel, work, runs);
    return { result, text: printVmCli(result) };
  } finally {
    for (const line of (await d.cli(['ps', '-a', '-q'])).stdout.split('\n').filter(Boolean)) await d.cli(['rm', '-f', line]).catch(() => undefined);
    await d.destroy();
    await rm(work, { recursive: true, force: true });
    unregister();
  }
}

async function must(d: BenchDaemon, args: string[], timeoutMs = 120_000): Promise<string> {
  const r = await d.cli(args, { timeoutMs });
  if (r.code !== 0) throw new Error(`hull ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

async function measure(d: BenchDaemon, guest: GuestArtifacts, a: AccelChoice, work: string, runs: number): Promise<VmCliResult> {
  log(`vm-cli: ${a.accel} (${a.reason}), ${runs} rounds`);
  const t: Record<string, number[]> = { vmStarted: [], vmMarker: [], vmReady: [], vmWait: [], vmNetReady: [], raw: [], isolated: [], container: [], rawProbe: [] };
  const mem: Record<string, number[]> = { qemuRss: [], vmCgroup: [], ctrRss: [], ctrCgroup: [] };
  const errors: string[] = [];

  /** `vm start` → `vm exec -- true` exits 0 (the exec waits up to 10 s for the agent; tried again after that). */
  const vmStart = async (name: string, net: string, into: number[], idle: boolean) => {
    const id = (await must(d, ['vm', 'create', '--name', name, '--memory', '256m', '--network', net])).trim();
    const t0 = now();
    // Beside the CLI: when the guest's ready line lands in the console log (splits Hull's share into before and after it).
    const marker = watchForMarker(() => readFile(join(d.root, 'vms', id, 'console.log'), 'utf8').catch(() => ''), READY_MARKER, t0);
    let started = 0;
    let ready = 0;
    try {
      await must(d, ['vm', 'start', name]);
      started = now() - t0;
      for (let tries = 0; (await d.cli(['vm', 'exec', name, '--', 'true'], { timeoutMs: 60_000 })).code !== 0; tries++) {
        if (tries > 10) throw new Error(`${name}: the guest agent never answered`);
      }
      ready = now() - t0;
    } catch (e) {
      marker.abandon();
      throw e;
    }
    // The marker is in the log by now, or this round failed: no figure of it is kept.
    const markerAt = await marker.settle(1000, `${name}: the guest answered but its ready line never reached console.log`);
    into.push(ready);
    if (net === 'none') {
      t.vmStarted.push(started);
      t.vmMarker.push(markerAt);
    }
    if (idle) {
      await sleep(IDLE_MS);
      const vm = JSON.parse(await must(d, ['vm', 'inspect', name]))[0].vm as { qemuPid: number; cgroup?: { dirs?: string[] } };
      mem.qemuRss.push(rssKiB(vm.qemuPid) / 1024);
      if (vm.cgroup?.dirs?.[0]) mem.vmCgroup.push((await cgroupMemory(vm.cgroup.dirs[0])) / 2 ** 20);
    }
    await must(d, ['vm', 'rm', '-f', name], 60_000);
  };

  /** `vm start --wait`: one CLI call that returns once the guest is configured and its agent answers. */
  const vmStartWait = async (name: string) => {
    await must(d, ['vm', 'create', '--name', name, '--memory', '256m', '--network', 'none']);
    const t0 = now();
    await must(d, ['vm', 'start', '--wait', name], 130_000);
    t.vmWait.push(now() - t0);
    await must(d, ['vm', 'rm', '-f', name], 60_000);
  };

  const all: Array<(i: number) => Promise<void>> = [
    (i) => vmStart(`vmn${i}`, 'none', t.vmReady, true),
    (i) => vmStart(`vmb${i}`, 'hull0', t.vmNetReady, false),
    async (i) => {
      const disk = join(work, `disk${i}.qcow2`);
      await qcow2.createOverlay(guest.baseDisk, disk);
      const { ms, q } = await rawBootToReady(a.accel, guest, disk);
      t.raw.push(ms);
      q.kill('SIGKILL');
      await new Promise((r) => q.once('close', r));
      await rm(disk, { force: true });
    },
    async () => {
      const t0 = now();
      await must(d, ['run', '--rm', '--isolation', 'vm', 'busybox', 'true']);
      t.isolated.push(now() - t0);
    },
    async () => {
      const t0 = now();
      await must(d, ['run', '--rm', 'busybox', 'true']);
      t.container.push(now() - t0);
    },
    async () => void t.rawProbe.push(await rawProbeBoot(a.accel, guest)),
    async (i) => {
      const name = `idle${i}`;
      await must(d, ['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
      await sleep(IDLE_MS);
      const st = JSON.parse(await must(d, ['inspect', name]))[0].state as { pid: number; conmonPid: number };
      mem.ctrRss.push((rssKiB(st.pid) + rssKiB(st.conmonPid)) / 1024);
      mem.ctrCgroup.push((await cgroupMemory(await memoryCgroupOf(st.pid))) / 2 ** 20);
      await must(d, ['rm', '-f', name]);
    },
  ];
  all.push((i) => vmStartWait(`vmw${i}`));
  const rounds = process.env.BENCH_VM_CLI_ONLY === 'ready' ? [all[0], all[2], all[all.length - 1]] : all;
  // One warm-up round (page cache, the daemon's first VM), not counted.
  for (let i = 0; i < runs + 1; i++) {
    const order = i % 2 === 0 ? rounds : [...rounds].reverse();
    for (const r of order) await r(i).catch((e: unknown) => errors.push(`round ${i}: ${(e as Error).message.split('\n')[0]}`));
    for (const name of [`vmn${i}`, `vmb${i}`, `vmw${i}`]) await d.cli(['vm', 'rm', '-f', name]).catch(() => undefined); // what a failed round left
    if (i === 0) {
      for (const v of [...Object.values(t), ...Object.values(mem)]) v.length = 0;
      errors.length = 0;
    }
  }
  const s = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, stats(v)])) as Record<string, Stats>;
  const m = Object.fromEntries(Object.entries(mem).map(([k, v]) => [k, stats(v)])) as Record<string, Stats>;
  const L = (x: string) => `${x} [${a.accel}]`;
  const r = (x: number, y: number) => ratio(x, y);
  return {
    kernelRelease: guest.kernelRelease,
    qemu: await qemuVersion(),
    accel: a,
    runs,
    errors,
    variants: {
      vmStarted: { label: L('`hull vm start X` returns (--network none)'), stats: s.vmStarted },
      vmMarker: { label: L('`hull vm start X` → ready marker in its console.log (--network none)'), stats: s.vmMarker },
      vmReady: { label: L('`hull vm start X` → `hull vm exec X -- true` ok (--network none)'), stats: s.vmReady },
      vmWait: { label: L('`hull vm start --wait X` (--network none)'), stats: s.vmWait },
      vmNetReady: { label: L('the same on the default network (hull0)'), stats: s.vmNetReady },
      raw: { label: L('raw qemu-system-x86_64, same kernel + disk → ready marker'), stats: s.raw },
      isolated: { label: L('`hull run --rm --isolation vm busybox true`'), stats: s.isolated },
      container: { label: '`hull run --rm busybox true`', stats: s.container },
      rawProbe: { label: L('raw qemu, same kernel + initramfs → first line, poweroff'), stats: s.rawProbe },
    },
    memoryMiB: {
      qemuRss: { label: L(`idle VM (${IDLE_MS / 1000} s after ready): QEMU RSS`), stats: m.qemuRss },
      vmCgroup: { label: L('idle VM: its cgroup\'s memory use'), stats: m.vmCgroup },
      ctrRss: { label: `idle container (${IDLE_MS / 1000} s): conmon + process RSS`, stats: m.ctrRss },
      ctrCgroup: { label: 'idle container: its cgroup\'s memory use', stats: m.ctrCgroup },
    },
    ratios: [
      { name: L('CLI vm start → ready / raw QEMU → marker'), value: r(s.vmReady.median, s.raw.median), goal: 1.1, met: r(s.vmReady.median, s.raw.median) <= 1.1 },
      { name: L('CLI vm start --wait / raw QEMU → marker'), value: r(s.vmWait.median, s.raw.median), goal: 1.1, met: r(s.vmWait.median, s.raw.median) <= 1.1 },
      { name: L('CLI vm start → marker in console.log / raw QEMU → marker'), value: r(s.vmMarker.median, s.raw.median) },
      { name: L('the same, default network / raw QEMU → marker'), value: r(s.vmNetReady.median, s.raw.median) },
      { name: L('run --isolation vm true / run true'), value: r(s.isolated.median, s.container.median) },
      { name: L('run --isolation vm true / raw kernel+initramfs boot'), value: r(s.isolated.median, s.rawProbe.median) },
      { name: L('idle VM QEMU RSS / idle container RSS'), value: r(m.qemuRss.median, m.ctrRss.median) },
      { name: L('idle VM cgroup / idle container cgroup'), value: r(m.vmCgroup.median, m.ctrCgroup.median) },
    ],
  };
}

/**
 * When `marker` first shows up in what `read` returns, in ms since `t0`,
 * polled every `pollMs`. `settle(graceMs, missing)` keeps looking `graceMs`
 * longer, then gives the time or throws `missing`: a marker never seen fails
 * the round, it never becomes a figure. `abandon()` stops looking (the round
 * failed for another reason).
 */
export function watchForMarker(read: () => Promise<string>, marker: string, t0: number, pollMs = 5): { settle(graceMs: number, missing: string): Promise<number>; abandon(): void } {
  let stopAt = Infinity;
  const seen = (async (): Promise<number | undefined> => {
    for (;;) {
      if ((await read()).includes(marker)) return now() - t0;
      if (now() >= stopAt) return undefined;
      await sleep(pollMs);
    }
  })();
  return {
    async settle(graceMs, missing) {
      stopAt = now() + graceMs;
      const at = await seen;
      if (at === undefined) throw new Error(missing);
      return at;
    },
    abandon: () => void (stopAt = 0),
  };
}

export function printVmCli(r: VmCliResult): string {
  const lines = [`VMs through the CLI: guest kernel ${r.kernelRelease}, ${r.qemu}; 256 MiB, 1 vCPU; ${r.accel.accel.toUpperCase()} (${r.accel.reason}); ${r.runs} rounds`];
  lines.push(table(['variant', 'median ms', 'p90 ms', 'min ms', 'max ms', 'n'], Object.values(r.variants).map((v) => [v.label, v.stats.median, v.stats.p90, v.stats.min, v.stats.max, v.stats.n])));
  lines.push(table(['memory', 'median MiB', 'max MiB', 'n'], Object.values(r.memoryMiB).map((v) => [v.label, v.stats.median, v.stats.max, v.stats.n])));
  lines.push(table(['ratio (medians)', 'value', 'goal', 'met'], r.ratios.map((x) => [x.name, x.value, x.goal ?? '', x.met === undefined ? '' : x.met ? 'yes' : 'NO'])));
  if (r.errors.length) lines.push(`errors (those samples are missing):\n  ${r.errors.join('\n  ')}`);
  return lines.join('\n');
}
