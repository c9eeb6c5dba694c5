import { finished } from 'node:stream/promises';
import { HullError, isHullError, notFound } from '../core/errors.js';
import { posix } from 'node:path';
import type { FileCopier, RootfsView } from '../runtime/driver.js';
import { extractTo, packPath } from '../storage/archive.js';
import { readClientArchive } from '../storage/archive-repack.js';
import { destSpec, place, sourceSpec } from '../storage/cp-rules.js';
import { RootDir } from '../storage/root-dir.js';

/**
 * `hull cp` on the daemon's side. How one container is reached:
 *   what   `container web`, for messages
 *   hold   run under the instance's lock, as every lifecycle call does
 *   view   its root filesystem, mounted for the copy (driver.rootfs)
 *
 * The lock is held for the whole copy, until the last byte is read or
 * written (docker holds the container's for a copy too): a stop, start or rm
 * waits for it, so the rootfs stays the one being copied. A running or
 * paused container is not stopped or frozen: the walk through directory
 * handles (storage/root-dir.ts) is what keeps a container changing its files
 * from sending the copy outside its tree. A client that goes away mid-copy
 * ends the stream; the lock, the handles and the mount go with it.
 *
 * Where the driver copies through the instance itself (`copier`, a
 * VM-isolated container's guest), the same rules are applied there: the
 * daemon decides where a copy lands from what the guest finds at the
 * destination and sends a tar it wrote itself; a copy out is the guest's
 * tar, passed to the client untouched.
 */
export interface CopyTarget {
  what: string;
  hold<T>(fn: () => Promise<T>): Promise<T>;
  view(): Promise<RootfsView>;
  copier?: () => Promise<FileCopier>;
}

/** A tar stream of `path` in the container (docker cp's source rules, storage/cp-rules.ts). */
export function copyOut(t: CopyTarget, path: string, o: { followLink?: boolean } = {}): Promise<NodeJS.ReadableStream> {
  if (t.copier) return copierOut(t, t.copier, path, o);
  return new Promise((resolve, reject) => {
    t.hold(() =>
      withRoot(t, async (root, view) => {
        const packed = await packPath(root, path, { followLink: o.followLink, ids: view.ids });
        resolve(packed.stream);
        await Promise.all([packed.done, finished(packed.stream).catch(() => undefined)]);
      }),
    ).catch(reject);
  });
}

/** Write a tar stream into the container at `path` (docker cp's destination rules). */
export function copyIn(t: CopyTarget, path: string, archive: NodeJS.ReadableStream): Promise<void> {
  if (t.copier) return copierIn(t, t.copier, path, archive);
  return t
    .hold(() => withRoot(t, (root, view) => extractTo(root, archive, { dest: path, keepOwners: true, ids: view.ids })));
}

async function withRoot(t: CopyTarget, fn: (root: RootDir, view: RootfsView) => Promise<void>): Promise<void> {
  const view = await t.view();
  try {
    const root = RootDir.open(view.path, view.mounts);
    try {
      await inside(t, () => fn(root, view));
    } finally {
      root.close();
    }
  } finally {
    await view.release();
  }
}

const inContainer = (e: unknown, what: string) => (isHullError(e) ? e.wrap(what) : new HullError('internal', `${what}: ${(e as Error).message}`));

function copierOut(t: CopyTarget, copier: () => Promise<FileCopier>, path: string, o: { followLink?: boolean }): Promise<NodeJS.ReadableStream> {
  const spec = sourceSpec(path, o.followLink);
  return new Promise((resolve, reject) => {
    t.hold(() =>
      inside(t, async () => {
        const packed = await (await copier()).pack(spec);
        resolve(packed.stream);
        await Promise.all([packed.done.catch(() => undefined), finished(packed.stream).catch(() => undefined)]);
      }),
    ).catch(reject);
  });
}

/** docker cp's destination rules, from the archive's first entry and what the driver finds at `path`. */
function copierIn(t: CopyTarget, copier: () => Promise<FileCopier>, path: string, archive: NodeJS.ReadableStream): Promise<void> {
  const spec = destSpec(path);
  return t.hold(() =>
    inside(t, async () => {
      const c = await copier();
      const tar = await readClientArchive(archive);
      try {
        const found = await c.probe(spec.path);
        const exists = found.kind === 'dir' || found.kind === 'file';
        const name = posix.basename(found.resolved);
        const p = place(spec, { exists, isDir: found.kind === 'dir', dangling: found.kind === 'dangling', name }, tar.first.type === 'directory');
        // What the rules say first (`destination directory … not found`), then the missing parent.
        if (found.kind === 'noparent') throw notFound(`"${posix.dirname(spec.path.replace(/\/+$/, '')) || '/'}"`);
        const top = tar.first.name.split('/').find((s: string) => s !== '') ?? '.';
        const dir = p.into === 'dest' ? found.resolved : posix.dirname(found.resolved);
        await c.unpack(dir, tar.repack(p.into === 'parent' ? { from: top, to: p.rename } : undefined));
      } finally {
        tar.abort();
      }
    }),
  );
}

/** Errors named for the instance: `container web: "/x" not found`. */
async function inside<T>(t: CopyTarget, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw inContainer(e, t.what);
  }
}
