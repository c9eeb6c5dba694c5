/**
 * Volume throughput: sequential write (then fsync) and read (O_DIRECT, so the
 * page cache is not what is measured) of one file with busybox's `dd`, timed
 * by busybox's `time` (10 ms resolution) in each place, through
 *
 *   host           the host's own dd, in a directory beside Hull's root (the peer)
 *   local-ctr      a local volume in a container (a bind of a directory: should be the host's)
 *   block-ctr      a block volume in a container (qcow2 → qemu-storage-daemon's FUSE export → loop → ext4)
 *   block-raw-ctr  a raw block volume in a container (loop → ext4, no FUSE)
 *   block-vm       a block volume attached to a VM, ext4 in the guest (TCG here: emulated CPU)
 *   local-isolated a local volume in a VM-isolated container (--isolation vm): virtiofs, served by virtiofsd
 *
 * all in the same run, rounds interleaved. BENCH_VOL_MIB sets the file size
 * (default 256), BENCH_VOL_RUNS the rounds (default 3).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BenchDaemon, exec, log, ratio, stats, table, type Stats } from './lib.js';

const num = (v: string | undefined, dflt: number) => (v && Number.isFinite(Number(v)) ? Number(v) : dflt);

export interface VolumeBenchResult {
  mib: number;
  runs: number;
  variants: Record<string, { label: string; writeMBps: Stats; readMBps: Stats }>;
  ratios: Array<{ name: string; write: number; read: number }>;
  errors: string[];
}

const LABELS: Record<string, string> = {
  host: 'host dd (peer)',
  'local-ctr': 'local volume, container',
  'block-ctr': 'block volume (qcow2), container',
  'block-raw-ctr': 'block volume (raw), container',
  'block-vm': 'block volume (qcow2), VM (TCG)',
  'local-isolated': 'local volume, VM-isolated container (virtiofs, TCG)',
};

/** One pass with busybox's dd and time everywhere (host, container, guest): write then read, seconds each. */
const ddScript = (file: string, mib: number, bb = '') =>
  `${bb}time -f 'secs %e' ${bb}dd if=/dev/zero of=${file} bs=1M count=${mib} conv=fsync 2>&1 | grep secs; ` +
  `${bb}time -f 'secs %e' ${bb}dd if=${file} of=/dev/null bs=1M iflag=direct 2>&1 | grep secs; rm -f ${file}`;

function parse(out: string, mib: number): { write: number; read: number } {
  const secs = [...out.matchAll(/secs ([\d.]+)/g)].map((m) => Math.max(0.01, Number(m[1])));
  if (secs.length !== 2) throw new Error(`unexpected dd output: ${out.slice(0, 300)}`);
  const mb = (mib * 1024 * 1024) / 1e6;
  return { write: Math.round((mb / secs[0]) * 10) / 10, read: Math.round((mb / secs[1]) * 10) / 10 };
}

export async function volumeBenchmark(): Promise<{ result: VolumeBenchResult; text: string }> {
  const mib = num(process.env.BENCH_VOL_MIB, 256);
  const runs = num(process.env.BENCH_VOL_RUNS, 3);
  process.env.HULL_VM_ACCEL ??= 'tcg';
  const d = await BenchDaemon.start();
  const errors: string[] = [];
  const samples: Record<string, Array<{ write: number; read: number }>> = Object.fromEntries(Object.keys(LABELS).map((k) => [k, []]));
  const cli = async (args: string[], timeoutMs = 600_000) => {
    const r = await d.cli(args, { timeoutMs });
    if (r.code !== 0) throw new Error(`hull ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const hostDir = join(d.root, 'bench-host');
  try {
    await mkdir(hostDir);
    const size = `${Math.max(256, mib * 2)}m`;
    await cli(['volume', 'create', 'lv']);
    await cli(['volume', 'create', '--driver', 'block', '--size', size, 'bv']);
    await cli(['volume', 'create', '--driver', 'block', '--size', size, '--opt', 'format=raw', 'rv']);
    await cli(['volume', 'create', '--driver', 'block', '--size', size, 'vv']);
    // Formatted by a container's first use; then the VM gets it.
    await cli(['run', '--rm', '--network', 'none', '-v', 'vv:/d', 'busybox', 'true']);
    await cli(['vm', 'create', '--name', 'bvm', '--network', 'none', '--memory', '512m', '--disk-volume', 'vv']);
    await cli(['vm', 'start', '--wait', 'bvm']);
    await cli(['vm', 'exec', 'bvm', '--', 'sh', '-c', 'for b in /sys/block/vd*; do [ "$(cat $b/serial)" = vv ] && mkdir -p /v && mount /dev/${b##*/} /v; done; grep -q " /v " /proc/mounts']);
    const variants: Record<string, () => Promise<string>> = {
      host: async () => (await exec('sh', ['-c', ddScript(join(hostDir, 'f'), mib, 'busybox ')], { timeoutMs: 600_000 })).stdout,
      'local-ctr': () => cli(['run', '--rm', '--network', 'none', '-v', 'lv:/d', 'busybox', 'sh', '-c', ddScript('/d/f', mib)]),
      'block-ctr': () => cli(['run', '--rm', '--network', 'none', '-v', 'bv:/d', 'busybox', 'sh', '-c', ddScript('/d/f', mib)]),
      'block-raw-ctr': () => cli(['run', '--rm', '--network', 'none', '-v', 'rv:/d', 'busybox', 'sh', '-c', ddScript('/d/f', mib)]),
      'block-vm': () => cli(['vm', 'exec', 'bvm', '--', 'sh', '-c', ddScript('/v/f', mib)]),
      // dd is timed inside the guest: the VM's boot is not counted.
      'local-isolated': () => cli(['run', '--rm', '--isolation', 'vm', '--network', 'none', '-v', 'lv:/d', 'busybox', 'sh', '-c', ddScript('/d/f', mib)]),
    };
    for (let round = 0; round < runs; round++) {
      const order = Object.keys(variants);
      if (round % 2) order.reverse();
      for (const k of order) {
        try {
          samples[k].push(parse(await variants[k](), mib));
        } catch (e) {
          errors.push(`${k}: ${(e as Error).message}`);
        }
      }
      log(`volumes: round ${round + 1}/${runs}`);
    }
  } finally {
    await d.cli(['vm', 'rm', '-f', 'bvm']).catch(() => undefined);
    await rm(hostDir, { recursive: true, force: true });
    await d.destroy();
  }
  const variants = Object.fromEntries(
    Object.entries(samples).map(([k, xs]) => [k, { label: LABELS[k], writeMBps: stats(xs.map((x) => x.write)), readMBps: stats(xs.map((x) => x.read)) }]),
  );
  const host = variants.host;
  const ratios = Object.keys(LABELS)
    .filter((k) => k !== 'host')
    .map((k) => ({ name: `${k} / host`, write: ratio(variants[k].writeMBps.median, host.writeMBps.median), read: ratio(variants[k].readMBps.median, host.readMBps.median) }));
  const result: VolumeBenchResult = { mib, runs, variants, ratios, errors };
  return { result, text: printVolumes(result) };
}

/** The tables of a stored or fresh result (bench/report.ts writes them into docs/performance.md). */
export function printVolumes(r: VolumeBenchResult): string {
  const rows = Object.values(r.variants).map((v) => [v.label, v.writeMBps.median, v.readMBps.median]);
  return [
    `volumes: sequential ${r.mib} MiB with dd (write + fsync, read O_DIRECT), MB/s, median of ${r.runs}`,
    table(['variant', 'write', 'read'], rows),
    table(['ratio', 'write', 'read'], r.ratios.map((x) => [x.name, x.write, x.read])),
    ...(r.errors.length ? [`errors: ${r.errors.join('; ')}`] : []),
  ].join('\n');
}
