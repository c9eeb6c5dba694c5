import { chown, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError } from '../core/errors.js';
import { run } from '../sys/run.js';

/**
 * A container's root filesystem: an overlay mount whose lower layers are the
 * image's unpacked layers (shared, read-only) and whose upper layer is the
 * container's own. Lives in <dir>/{upper,work,merged}.
 *
 *   prepare(dir)                 make the directories (at create)
 *   mount(dir, lowers)           mount merged (at start; idempotent)
 *   unmount(dir)                 (at exit; idempotent)
 *   remove(dir)                  unmount and delete everything (at rm)
 */
export const mergedDir = (dir: string) => join(dir, 'merged');

export async function prepare(dir: string): Promise<void> {
  for (const d of ['upper', 'work', 'merged']) await mkdir(join(dir, d), { recursive: true, mode: 0o755 });
}

/** For a user namespace: the container's own layer belongs to its mapped root. */
export async function chownWritable(dir: string, uid: number, gid: number): Promise<void> {
  for (const d of ['upper', 'work', 'merged']) await chown(join(dir, d), uid, gid);
}

export async function isMounted(path: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((l) => l.split(' ')[4] === path);
}

export async function mount(dir: string, lowers: string[]): Promise<string> {
  const merged = mergedDir(dir);
  if (await isMounted(merged)) return merged;
  if (lowers.length === 0) throw new HullError('invalid', 'image has no layers');
  // overlay wants the topmost lower layer first.
  const lowerdir = [...lowers].reverse().join(':');
  const opts = `lowerdir=${lowerdir},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`;
  if (opts.length > 4000) throw new HullError('invalid', 'too many image layers for one overlay mount');
  // nodev: a device node from an image layer (or made outside /dev) never opens; /dev is the runtime's own tmpfs.
  await run(['mount', '-t', 'overlay', 'overlay', '-o', `nodev,${opts}`, merged], { timeoutMs: 30_000 });
  return merged;
}

export async function unmount(dir: string): Promise<void> {
  const merged = mergedDir(dir);
  if (!(await isMounted(merged))) return;
  const r = await run(['umount', merged], { allowFailure: true, timeoutMs: 30_000 });
  if (r.code !== 0) await run(['umount', '-l', merged], { timeoutMs: 30_000 });
}

export async function remove(dir: string): Promise<void> {
  await unmount(dir);
  await rm(dir, { recursive: true, force: true });
}
