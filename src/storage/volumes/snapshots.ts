import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError, conflict, notFound } from '../../core/errors.js';
import type { Volume } from '../../core/volume.js';
import * as qcow2 from '../qcow2.js';
import { extractTo, packPath } from '../archive.js';
import { RootDir } from '../root-dir.js';
import * as local from './local.js';
import { removeTree } from './tree.js';
import type { VolumePaths } from './paths.js';

/**
 * Volume snapshots:
 *
 *   block (qcow2)  internal snapshots in the disk file: qemu-img while no one
 *                  holds the disk; while a running VM has it attached, taken
 *                  live by that VM's QEMU (the engine asks the VM driver)
 *   local          a copy of the directory under snapshots/<name>, made and
 *                  restored through directory handles (root-dir.ts), so a
 *                  container changing the volume meanwhile cannot send the copy
 *                  outside it
 *
 * A restore replaces the volume's contents, so it waits until no running
 * instance uses the volume. A raw block volume, a tmpfs or a bind local
 * volume have none.
 */
export interface VolumeSnapshot {
  name: string;
  createdAt: string;
}

export function check(v: Volume, p: VolumePaths): void {
  if (v.driver === 'block' && p.format === 'raw') throw new HullError('invalid', `volume ${v.name} is a raw disk: only qcow2 block volumes have snapshots`);
  if (v.driver === 'local' && local.mounted(v.options)) throw new HullError('invalid', `volume ${v.name} is a ${v.options.type} local volume: it has no snapshots`);
}

export async function list(v: Volume, p: VolumePaths): Promise<VolumeSnapshot[]> {
  check(v, p);
  if (v.driver === 'block') return (await qcow2.snapshotList(p.disk)).map((s) => ({ name: s.name, createdAt: s.date }));
  const names = await readdir(p.snapshots).catch(() => [] as string[]);
  const out: VolumeSnapshot[] = [];
  for (const name of names.filter((n) => !n.startsWith('.'))) out.push({ name, createdAt: (await stat(join(p.snapshots, name))).mtime.toISOString() });
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** A snapshot of a volume no VM holds (qemu-img for a block volume, a copy for a local one). */
export async function create(v: Volume, p: VolumePaths, name: string): Promise<void> {
  check(v, p);
  qcow2.checkSnapshotName(name);
  if ((await list(v, p)).some((s) => s.name === name)) throw conflict(`volume ${v.name} already has a snapshot "${name}"`);
  if (v.driver === 'block') return qcow2.snapshotCreate(p.disk, name);
  await mkdir(p.snapshots, { recursive: true, mode: 0o700 });
  const tmp = join(p.snapshots, `.${name}.tmp`);
  await removeTree(tmp);
  try {
    await copyDir(p.data, tmp);
    await rename(tmp, join(p.snapshots, name));
  } catch (e) {
    await removeTree(tmp);
    throw e;
  }
}

/** Back to a snapshot; the caller has made sure no running instance uses the volume. */
export async function restore(v: Volume, p: VolumePaths, name: string): Promise<void> {
  await mustHave(v, p, name);
  if (v.driver === 'block') return qcow2.snapshotApply(p.disk, name);
  const next = `${p.data}.restore`;
  const old = `${p.data}.old`;
  await removeTree(next);
  await mkdir(next, { mode: 0o755 });
  await copyDir(join(p.snapshots, name), next);
  await removeTree(old);
  await rename(p.data, old);
  await rename(next, p.data);
  await removeTree(old);
}

export async function remove(v: Volume, p: VolumePaths, name: string): Promise<void> {
  await mustHave(v, p, name);
  if (v.driver === 'block') return qcow2.snapshotDelete(p.disk, name);
  await removeTree(join(p.snapshots, name));
}

async function mustHave(v: Volume, p: VolumePaths, name: string): Promise<void> {
  if (!(await list(v, p)).some((s) => s.name === name)) throw notFound(`snapshot "${name}" of volume ${v.name}`);
}

/** Everything in `from` (owners, modes, times, links) into the directory `to`, both walked through handles. */
export async function copyDir(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o755 });
  const src = RootDir.open(from);
  const dst = RootDir.open(to);
  try {
    const packed = await packPath(src, '/.');
    try {
      await extractTo(dst, packed.stream, { dest: '/.', keepOwners: true });
    } finally {
      packed.stream.destroy();
      await packed.done;
    }
  } finally {
    src.close();
    dst.close();
  }
}
