/**
 * VMs: Hull's QEMU driver beside the bare qemu-system-x86_64 command line for
 * the same kernel, initramfs and disk, from the same run, per accelerator
 * (TCG always; KVM when a KVM guest boots here):
 *
 *   boot      driver start() → marker on the serial console, and → guest agent answers,
 *             beside raw QEMU (-serial stdio, same kernel and debian-min clone) → the same marker
 *   isolated  IsolatedDriver create → start → exit → remove of `busybox true` (what
 *             `run --rm --isolation vm` does below the CLI), beside raw QEMU booting the
 *             same kernel + initramfs to the initramfs's first line (hull.probe=1) and exiting
 *   memory    QEMU's RSS with the guest booted and idle, Hull's VM and the raw one
 *
 * Runs are interleaved round-robin so drift on a shared machine hits every
 * variant alike. Drives the driver directly (the engine/CLI `hull vm` verbs
 * come later); BENCH_VM_RUNS sets the rounds (default 5).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { probeKvm, accelArgs, type Accel, type AccelChoice } from '../src/runtime/qemu/accel.js';
import { QemuDriver } from '../src/runtime/qemu/driver.js';
import { loadGuest, READY_MARKER, type GuestArtifacts } from '../src/runtime/qemu/guest.js';
import { VmImages } from '../src/runtime/qemu/images.js';
import { IsolatedDriver } from '../src/runtime/qemu/isolated-driver.js';
import { QEMU } from '../src/runtime/qemu/process.js';
import { busyboxLayers, vmInstance, waitFor } from '../src/runtime/qemu/testing.js';
import * as qcow2 from '../src/storage/qcow2.js';
import { log, now, onInterrupt, ratio, rssKiB, sleep, stats, table, type Stats } from './lib.js';

interface AccelResult {
  accel: Accel;
  reason: string;
  runs: number;
  variants: Record<string, { label: string; stats: Stats }>;
  rssMiB: { hull: Stats; raw: Stats };
  ratios: Array<{ name: string; value: number; goal?: number; met?: boolean }>;
}

export interface VmBenchResult {
  kernelRelease: string;
  qemu: string;
  results: AccelResult[];
  skipped: Array<{ accel: Accel; reason: string }>;
}

export async function vmBenchmark(): Promise<{ result: VmBenchResult; text: string }> {
  const runs = Number(process.env.BENCH_VM_RUNS ?? 5) || 5;
  const guest = await loadGuest();
  const work = await mkdtemp('/tmp/hvb-');
  const unregister = onInterrupt(async () => {
    await killUnderDir(work);
    await rm(work, { recursive: true, force: true });
  });
  const result: VmBenchResult = { kernelRelease: guest.kernelRelease, qemu: await qemuVersion(), results: [], skipped: [] };
  try {
    const kvm = await probeKvm(guest);
    const accels: AccelChoice[] = [{ accel: 'tcg', reason: 'software emulation' }];
    if (kvm.accel === 'kvm') accels.push(kvm);
    else result.skipped.push({ accel: 'kvm', reason: kvm.reason });
    for (const a of accels) result.results.push(await benchAccel(a, guest, join(work, a.accel), runs));
  } finally {
    await killUnderDir(work);
    await rm(work, { recursive: true, force: true });
    unregister();
  }
  return { result, text: printVmBench(result) };
}

async function benchAccel(a: AccelChoice, guest: GuestArtifacts, root: string, runs: number): Promise<AccelResult> {
  log(`vm: ${a.accel} (${a.reason}), ${runs} rounds`);
  await mkdir(join(root, 'raw'), { recursive: true });
  const images = new VmImages(root);
  await images.ensureBuiltin(guest);
  const driver = new QemuDriver({ root, images, guest: async () => guest, accel: async () => a });
  const layers = await busyboxLayers(join(root, 'layers'));
  const iso = new IsolatedDriver({ root, exitDir: join(root, 'exits'), guest: async () => guest, accel: async () => a });
  const samples: Record<string, number[]> = { marker: [], ready: [], raw: [], isolated: [], rawProbe: [] };
  const rss = { hull: [] as number[], raw: [] as number[] };
  const rounds = [
    async (i: number) => {
      const inst = vmInstance(`bench${i}`);
      await driver.create(inst);
      const t0 = now();
      const { pid } = await driver.start(inst, { layerDirs: [] });
      await waitFor(async () => (await readFile(driver.logPath(inst), 'utf8').catch(() => '')).includes(READY_MARKER), 120_000, 'marker', 5);
      samples.marker.push(now() - t0);
      await driver.waitReady(inst, 120_000);
      samples.ready.push(now() - t0);
      await sleep(1500);
      rss.hull.push(rssKiB(pid) / 1024);
      await driver.stop(inst, 0);
      await driver.remove(inst);
    },
    async (i: number) => {
      const disk = join(root, 'raw', `disk${i}.qcow2`);
      await qcow2.createOverlay((await images.get('debian-min')).path, disk);
      const { ms, q } = await rawBootToReady(a.accel, guest, disk);
      samples.raw.push(ms);
      await sleep(1500);
      rss.raw.push(rssKiB(q.pid!) / 1024);
      q.kill('SIGKILL');
      await new Promise((r) => q.once('close', r));
      await rm(disk, { force: true });
    },
    async (i: number) => {
      const base = vmInstance(`iso${i}`);
      const inst = { ...base, type: 'container' as const, config: { ...base.config, cmd: ['true'], env: ['PATH=/bin'], isolation: 'vm' as const } };
      const t0 = now();
      await iso.create(inst, { layerDirs: layers });
      await iso.start(inst, { layerDirs: [] });
      const ex = await waitFor(() => iso.exitStatus(inst), 120_000, 'exit', 5);
      if (ex.exitCode !== 0) throw new Error(`isolated busybox true exited ${ex.exitCode}`);
      await iso.release(inst);
      await iso.remove(inst);
      samples.isolated.push(now() - t0);
    },
    async () => void samples.rawProbe.push(await rawProbeBoot(a.accel, guest)),
  ];
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? rounds : [...rounds].reverse();
    for (const r of order) await r(i);
  }
  await iso.close();
  const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)])) as Record<string, Stats>;
  const label = (t: string) => `${t} [${a.accel}]`;
  return {
    accel: a.accel,
    reason: a.reason,
    runs,
    variants: {
      marker: { label: label('Hull driver start → console marker'), stats: s.marker },
      ready: { label: label('Hull driver start → guest agent answers'), stats: s.ready },
      raw: { label: label('raw qemu-system-x86_64, same kernel+disk → marker'), stats: s.raw },
      isolated: { label: label('IsolatedDriver busybox true: create → start → exit → remove'), stats: s.isolated },
      rawProbe: { label: label('raw qemu, kernel+initramfs → first line, exit'), stats: s.rawProbe },
    },
    rssMiB: { hull: stats(rss.hull), raw: stats(rss.raw) },
    ratios: [
      { name: `Hull start→marker / raw QEMU→marker [${a.accel}]`, value: ratio(s.marker.median, s.raw.median), goal: 1.1, met: ratio(s.marker.median, s.raw.median) <= 1.1 },
      { name: `Hull start→agent ready / raw QEMU→marker [${a.accel}]`, value: ratio(s.ready.median, s.raw.median) },
      { name: `isolated busybox true / raw kernel+initramfs boot [${a.accel}]`, value: ratio(s.isolated.median, s.rawProbe.median) },
    ],
  };
}

/** Raw QEMU booting the same kernel and a clone of the same disk, timed to the guest's ready line; the caller stops it. */
export async function rawBootToReady(accel: Accel, guest: GuestArtifacts, disk: string): Promise<{ ms: number; q: ChildProcess }> {
  const t0 = now();
  const q = spawn(QEMU, rawArgv(accel, guest, ['-drive', `file=${disk},format=qcow2,if=virtio`], 'hull.root=/dev/vda'), { stdio: ['ignore', 'pipe', 'ignore'] });
  await untilOutput(q.stdout!, READY_MARKER);
  return { ms: now() - t0, q };
}

/** Raw QEMU booting the same kernel + initramfs to its first line (`hull.probe=1`) and powering off: ms. */
export async function rawProbeBoot(accel: Accel, guest: GuestArtifacts): Promise<number> {
  const t0 = now();
  const q = spawn(QEMU, [...rawArgv(accel, guest, [], 'hull.probe=1'), '-no-reboot'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  q.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  await new Promise((r) => q.once('close', r));
  if (!out.includes('HULL_PROBE_OK')) throw new Error('raw probe boot printed no marker');
  return now() - t0;
}

/** The bare command line: the same machine type, accelerator, memory, kernel and initramfs as Hull's; serial on stdout. */
export function rawArgv(accel: Accel, guest: GuestArtifacts, disk: string[], cmdline: string): string[] {
  return [
    '-machine', 'q35', ...accelArgs(accel), '-m', '256', '-smp', '1', '-nodefaults', '-display', 'none', '-serial', 'stdio',
    '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', `console=ttyS0 quiet panic=-1 ${cmdline}`, ...disk,
  ];
}

export function untilOutput(stream: NodeJS.ReadableStream, marker: string, timeoutMs = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no "${marker}" within ${timeoutMs} ms`)), timeoutMs);
    stream.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes(marker)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

export async function qemuVersion(): Promise<string> {
  return new Promise((resolve) => {
    const q = spawn(QEMU, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    q.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    q.once('close', () => resolve(out.split('\n')[0] ?? ''));
    q.once('error', () => resolve('not installed'));
  });
}

/** Any QEMU left under the work dir (an interrupted run). */
async function killUnderDir(dir: string): Promise<void> {
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(dir) && cmd.includes('qemu')) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

export function printVmBench(r: VmBenchResult): string {
  const lines: string[] = [];
  lines.push(`VMs: guest kernel ${r.kernelRelease}, ${r.qemu}; 256 MiB, 1 vCPU`);
  for (const a of r.results) {
    lines.push('');
    lines.push(`${a.accel.toUpperCase()} (${a.reason}), ${a.runs} rounds`);
    lines.push(table(['variant', 'median ms', 'p90 ms', 'min ms', 'max ms'], Object.values(a.variants).map((v) => [v.label, v.stats.median, v.stats.p90, v.stats.min, v.stats.max])));
    lines.push(table(['QEMU RSS, guest idle', 'median MiB', 'max MiB'], [[`Hull VM [${a.accel}]`, a.rssMiB.hull.median, a.rssMiB.hull.max], [`raw qemu [${a.accel}]`, a.rssMiB.raw.median, a.rssMiB.raw.max]]));
    lines.push(table(['ratio (medians)', 'value', 'goal', 'met'], a.ratios.map((x) => [x.name, x.value, x.goal ?? '', x.met === undefined ? '' : x.met ? 'yes' : 'NO'])));
  }
  for (const s of r.skipped) lines.push(`\n${s.accel.toUpperCase()}: skipped (${s.reason})`);
  return lines.join('\n');
}
