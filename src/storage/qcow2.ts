import { open, stat } from 'node:fs/promises';
import { HullError, isHullError } from '../core/errors.js';
import { bytesSize } from '../core/human.js';
import { run, type RunOptions } from '../sys/run.js';

/**
 * VM disks through qemu-img: linked clones (a qcow2 overlay whose backing
 * file is a shared base image), info, internal snapshots (disk-only, with the
 * VM stopped: a running QEMU holds the image locked), import of qcow2, raw and
 * ISO images, and corruption checks.
 *
 *   await createOverlay(base, '/…/disk.qcow2', { sizeBytes: 4 << 30 });
 *   await snapshotCreate('/…/disk.qcow2', 'before-upgrade');
 *   await snapshotApply('/…/disk.qcow2', 'before-upgrade');
 */
export interface DiskInfo {
  format: string;
  virtualSize: number;
  actualSize: number;
  backingFile?: string;
  backingFormat?: string;
  dirty: boolean;
  snapshots: DiskSnapshot[];
}

export interface DiskSnapshot {
  id: string;
  name: string;
  /** Bytes of saved VM memory and device state; 0 for a disk-only snapshot. */
  vmStateSize: number;
  date: string;
}

export type ImportFormat = 'qcow2' | 'raw' | 'iso';

const QEMU_IMG = 'qemu-img';
const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** `as`: an argv prefix to run qemu-img as another user (a VM's disk is read as its QEMU's user: runtime/qemu/confine.ts). */
function qemuImg(args: string[], opts: RunOptions = {}, as: string[] = []) {
  return run([...as, QEMU_IMG, ...args], { timeoutMs: 300_000, ...opts }).catch((e: unknown) => {
    throw explain(e, args);
  });
}

/** qemu-img says "Could not open 'x': No such file or directory" twice over; say it once, with a code. */
function explain(e: unknown, args: string[]): unknown {
  if (!isHullError(e) || e.code === 'unavailable') return e;
  const stderr = String(e.details?.stderr ?? e.message).trim();
  const last = stderr.split('\n').filter(Boolean).pop() ?? stderr;
  const msg = last.replace(/^qemu-img: /, '');
  const code = /No such file or directory/.test(msg) ? 'not_found' : /Image is not in qcow2 format|not in .* format|Unknown driver|invalid|corrupt/i.test(msg) ? 'invalid' : 'internal';
  return new HullError(code, `qemu-img ${args[0]}: ${msg}`, { stderr });
}

export function checkSnapshotName(name: string): void {
  // qemu-img takes an all-digit name for a snapshot id, so a name needs a letter.
  if (!SNAPSHOT_NAME.test(name) || /^\d+$/.test(name)) {
    throw new HullError('invalid', `invalid snapshot name "${name}": use 1-64 letters, digits, '_', '.', '-', starting with a letter or digit, not all digits`);
  }
}

export async function info(path: string, as: string[] = []): Promise<DiskInfo> {
  const r = await qemuImg(['info', '--output=json', '-U', path], { timeoutMs: 30_000 }, as);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  const snaps = (j.snapshots as Array<Record<string, number | string>> | undefined) ?? [];
  return {
    format: String(j.format),
    virtualSize: Number(j['virtual-size']),
    actualSize: Number(j['actual-size'] ?? 0),
    backingFile: j['full-backing-filename'] as string | undefined,
    backingFormat: j['backing-filename-format'] as string | undefined,
    dirty: j['dirty-flag'] === true,
    snapshots: snaps.map((s) => ({
      id: String(s.id),
      name: String(s.name),
      vmStateSize: Number(s['vm-state-size'] ?? 0),
      date: new Date(Number(s['date-sec']) * 1000 + Math.floor(Number(s['date-nsec'] ?? 0) / 1e6)).toISOString(),
    })),
  };
}

/**
 * `qemu-img check`: refuse an image whose metadata is corrupt (leaked
 * clusters alone are harmless). Exit codes: 0 clean, 2 corrupt, 3 leaks only,
 * 63 a format without checks (raw), 1 could not check at all.
 */
export async function check(path: string, what = path): Promise<void> {
  const r = await run([QEMU_IMG, 'check', '-U', '--output=human', path], { allowFailure: true, timeoutMs: 300_000 });
  if (r.code === 0 || r.code === 3 || r.code === 63) return;
  const why = (r.stderr.trim() || r.stdout.trim()).split('\n').filter(Boolean).slice(0, 3).join('; ').replace(/qemu-img: /g, '');
  if (/No such file or directory/.test(why)) throw new HullError('not_found', `disk image ${what}: ${why}`);
  throw new HullError('invalid', `disk image ${what} is corrupt or unreadable: ${why || `qemu-img check exit code ${r.code}`}`);
}

/** A linked clone: a qcow2 whose reads fall through to `base` until written. Grows to `sizeBytes` if given. */
export async function createOverlay(base: string, overlay: string, opts: { sizeBytes?: number; baseFormat?: string } = {}): Promise<void> {
  const fmt = opts.baseFormat ?? (await info(base)).format;
  const args = ['create', '-q', '-f', 'qcow2', '-b', base, '-F', fmt, overlay];
  if (opts.sizeBytes !== undefined) {
    const baseSize = (await info(base)).virtualSize;
    if (opts.sizeBytes < baseSize) throw new HullError('invalid', `disk size ${bytesSize(opts.sizeBytes)} is smaller than the image's ${bytesSize(baseSize)}: give at least ${bytesSize(baseSize)}`);
    args.push(String(opts.sizeBytes));
  }
  await qemuImg(args);
}

export async function createBlank(path: string, sizeBytes: number): Promise<void> {
  await qemuImg(['create', '-q', '-f', 'qcow2', path, String(sizeBytes)]);
}

/** Grow a disk (shrinking would cut the guest's filesystem). */
export async function resize(path: string, sizeBytes: number): Promise<void> {
  const cur = (await info(path)).virtualSize;
  if (sizeBytes < cur) throw new HullError('invalid', `cannot shrink a disk from ${cur} to ${sizeBytes} bytes`);
  if (sizeBytes > cur) await qemuImg(['resize', '-q', path, String(sizeBytes)]);
}

/** qcow2 or raw → a standalone qcow2 (a backing chain is flattened). */
export async function convertToQcow2(src: string, dst: string, srcFormat: 'qcow2' | 'raw'): Promise<void> {
  await qemuImg(['convert', '-q', '-f', srcFormat, '-O', 'qcow2', src, dst]);
}

/** What an image to import is: qcow2 by its header, ISO 9660 by its volume descriptor, else raw. */
export async function detectFormat(path: string): Promise<ImportFormat> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new HullError('not_found', `disk image ${path} not found`);
  if (!st.isFile()) throw new HullError('invalid', `disk image ${path} is not a regular file`);
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    if (head.toString('latin1') === 'QFI\xfb') return 'qcow2';
    const vd = Buffer.alloc(5);
    await fh.read(vd, 0, 5, 0x8001);
    if (vd.toString('latin1') === 'CD001') return 'iso';
    return 'raw';
  } finally {
    await fh.close();
  }
}

// ---- internal snapshots, disk-only (the image must not be open in a running QEMU) ----

export async function snapshotCreate(path: string, name: string, as: string[] = []): Promise<void> {
  checkSnapshotName(name);
  if ((await snapshotList(path, as)).some((s) => s.name === name)) throw new HullError('conflict', `snapshot "${name}" already exists`);
  await qemuImg(['snapshot', '-c', name, path], {}, as);
}

export async function snapshotList(path: string, as: string[] = []): Promise<DiskSnapshot[]> {
  return (await info(path, as)).snapshots;
}

export async function snapshotApply(path: string, name: string, as: string[] = []): Promise<void> {
  await mustHave(path, name, as);
  await qemuImg(['snapshot', '-a', name, path], {}, as);
}

export async function snapshotDelete(path: string, name: string, as: string[] = []): Promise<void> {
  await mustHave(path, name, as);
  await qemuImg(['snapshot', '-d', name, path], {}, as);
}

async function mustHave(path: string, name: string, as: string[]): Promise<void> {
  if (!(await snapshotList(path, as)).some((s) => s.name === name)) throw new HullError('not_found', `snapshot "${name}" not found`);
}
