import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError } from '../../core/errors.js';
import { run } from '../../sys/run.js';

/**
 * An OCI image's root filesystem as an ext4 disk image, for a VM to boot a
 * container from. The layers (bottom first, as ImageService.layerDirs gives
 * them, whiteouts already in overlayfs form) are overlay-mounted read-only, so
 * the kernel applies whiteouts and opaque directories exactly as a container's
 * rootfs would show them; `mke2fs -d` copies that merged tree into the image.
 */
const MiB = 1024 * 1024;

/** Mount the layers merged and read-only for the duration of `fn`. */
export async function withMergedLayers<T>(layerDirs: string[], tmpDir: string, fn: (merged: string) => Promise<T>): Promise<T> {
  if (layerDirs.length === 0) throw new HullError('invalid', 'image has no layers');
  const work = await mkdtemp(join(tmpDir, 'merge-'));
  const merged = join(work, 'merged');
  const empty = join(work, 'empty');
  try {
    await mkdir(merged);
    await mkdir(empty);
    // Without an upper dir overlayfs wants two lower dirs at least: an empty one goes at the bottom.
    const lowerdir = [...layerDirs].reverse().concat(empty).join(':');
    if (lowerdir.length > 4000) throw new HullError('invalid', 'too many image layers for one overlay mount');
    await run(['mount', '-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowerdir}`, merged], { timeoutMs: 30_000 });
    try {
      return await fn(merged);
    } finally {
      await run(['umount', merged], { timeoutMs: 30_000, allowFailure: true });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The layers merged and read-only until `release()`: withMergedLayers for a caller that holds it across calls. */
export function mergedLayersView(layerDirs: string[], tmpDir: string): Promise<{ path: string; release: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const done = withMergedLayers(layerDirs, tmpDir, async (path) => {
      resolve({ path, release: async () => (release(), await done) });
      await released;
    });
    done.catch(reject);
  });
}

/**
 * `mke2fs -d tree out`: sized to the tree plus room to write (a quarter more
 * and `roomBytes`, 64 MiB unless said; the file is sparse, so room costs
 * nothing until used), with inodes for every file and then some. With a
 * journal, as a disk that lives across runs wants (a VM quit mid-write comes
 * back consistent).
 */
export async function makeExt4(tree: string, out: string, o: { journal?: boolean; roomBytes?: number } = {}): Promise<number> {
  const used = Number((await run(['du', '-s', '-B1', '-x', tree], { timeoutMs: 120_000 })).stdout.split(/\s/)[0]);
  const files = Number((await run(['du', '-s', '--inodes', '-x', tree], { timeoutMs: 120_000 })).stdout.split(/\s/)[0]);
  const size = Math.ceil((used * 1.25 + (o.roomBytes ?? 64 * MiB)) / MiB) * MiB;
  const inodes = Math.ceil(files * 1.5) + 4096;
  await run(['mke2fs', '-q', '-t', 'ext4', ...(o.journal ? ['-J', 'size=8'] : ['-O', '^has_journal']), '-N', String(inodes), '-E', 'root_owner=0:0', '-L', 'hull-rootfs', '-d', tree, out, `${size / 1024}k`], {
    timeoutMs: 600_000,
  });
  return size;
}

/** Unmount anything mounted at or below `dir` (deepest first). */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run(['umount', '-l', m], { timeoutMs: 30_000, allowFailure: true });
}
