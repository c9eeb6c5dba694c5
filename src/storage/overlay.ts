import { chmod, chown, lchown, lstat, mkdir, opendir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError } from '../core/errors.js';
import { run } from '../sys/run.js';

/**
 * A container's root filesystem: an overlay mount whose lower layers are the
 * image's unpacked layers (shared, read-only) and whose upper layer is the
 * container's own. Lives in <dir>/{upper,work,merged}.
 *
 *   prepare(dir)                 make the directories (at create)
 *   mount(dir, lowers, opts)     mount merged (at start; idempotent)
 *   shiftOwners(merged, map)     make the image's files the user namespace's (at create, once)
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

export interface MountOptions {
  /**
   * metacopy=on: a change of owner or mode copies only the metadata up, not
   * the data. A user namespace's rootfs needs it (shiftOwners), and every
   * later mount of that upper dir must have it too, or the metadata-only
   * copies read as empty files.
   */
  metacopy?: boolean;
}

/**
 * Give every file of the (mounted, not yet running) rootfs to the user
 * namespace's ids: owner n becomes hostUid + n, as docker's userns-remap
 * unpacks images for its remapped root. The lower layers stay shared and
 * untouched: with metacopy each change lands in this container's upper dir
 * as metadata alone. An owner outside the range (n >= size) or already
 * shifted is left as it is (a hard link reached twice is shifted once).
 * chown clears set-user-id and set-group-id bits, so they are put back; file
 * capabilities go (as under docker's userns-remap, a v2 capability of host
 * root means nothing in the namespace anyway).
 */
export async function shiftOwners(merged: string, map: { hostUid: number; hostGid: number; size: number }): Promise<number> {
  let n = 0;
  const shift = async (path: string) => {
    const st = await lstat(path);
    const uid = st.uid < map.size ? st.uid + map.hostUid : st.uid;
    const gid = st.gid < map.size ? st.gid + map.hostGid : st.gid;
    if (uid === st.uid && gid === st.gid) return;
    await lchown(path, uid, gid);
    if (!st.isSymbolicLink() && st.mode & 0o6000) await chmod(path, st.mode & 0o7777);
    n++;
  };
  const walk = async (dir: string): Promise<void> => {
    for await (const e of await opendir(dir)) {
      const path = join(dir, e.name);
      await shift(path);
      if (e.isDirectory()) await walk(path);
    }
  };
  await walk(merged);
  return n;
}

export async function isMounted(path: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((l) => l.split(' ')[4] === path);
}

export async function mount(dir: string, lowers: string[], o: MountOptions = {}): Promise<string> {
  const merged = mergedDir(dir);
  if (await isMounted(merged)) return merged;
  if (lowers.length === 0) throw new HullError('invalid', 'image has no layers');
  // overlay wants the topmost lower layer first.
  const lowerdir = [...lowers].reverse().join(':');
  const opts = `lowerdir=${lowerdir},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`;
  if (opts.length > 4000) throw new HullError('invalid', 'too many image layers for one overlay mount');
  // nodev: a device node from an image layer (or made outside /dev) never opens; /dev is the runtime's own tmpfs.
  const extra = o.metacopy ? 'metacopy=on,redirect_dir=on,' : '';
  await run(['mount', '-t', 'overlay', 'overlay', '-o', `nodev,${extra}${opts}`, merged], { timeoutMs: 30_000 });
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
