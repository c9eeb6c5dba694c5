import { finished } from 'node:stream/promises';
import { HullError, isHullError } from '../core/errors.js';
import type { RootfsView } from '../runtime/driver.js';
import { extractTo, packPath } from '../storage/archive.js';
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
 */
export interface CopyTarget {
  what: string;
  hold<T>(fn: () => Promise<T>): Promise<T>;
  view(): Promise<RootfsView>;
}

/** A tar stream of `path` in the container (docker cp's source rules, storage/cp-rules.ts). */
export function copyOut(t: CopyTarget, path: string, o: { followLink?: boolean } = {}): Promise<NodeJS.ReadableStream> {
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
  return t
    .hold(() => withRoot(t, (root, view) => extractTo(root, archive, { dest: path, keepOwners: true, ids: view.ids })));
}

async function withRoot(t: CopyTarget, fn: (root: RootDir, view: RootfsView) => Promise<void>): Promise<void> {
  const view = await t.view();
  try {
    const root = RootDir.open(view.path, view.mounts);
    try {
      await fn(root, view);
    } catch (e) {
      throw inContainer(e, t.what); // `container web: "/x" not found`
    } finally {
      root.close();
    }
  } finally {
    await view.release();
  }
}

const inContainer = (e: unknown, what: string) => (isHullError(e) ? e.wrap(what) : new HullError('internal', `${what}: ${(e as Error).message}`));
