import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError } from '../../core/errors.js';
import { split } from '../root-dir.js';

/**
 * Refuse a mount target that reaches, through a symlink in the container's
 * root filesystem, a place that climbs out of it (`/data -> ../../../etc`):
 * on the host such a link names the host's files, so it can only be an
 * attempt to have a mount land there. The runtimes keep every mount inside
 * the root anyway (crun with openat2's RESOLVE_IN_ROOT, runc by resolving in
 * scope), so this is about a clear error rather than the boundary. Links
 * that stay inside (`/var/run -> /run`, absolute ones, which are rooted at the
 * root) are followed as docker follows them. Called before the container
 * starts: nothing in its root changes meanwhile.
 */
export async function checkMountTargets(rootfs: string, mounts: Array<{ destination: string }>): Promise<void> {
  for (const m of mounts) await checkOne(rootfs, m.destination);
}

async function checkOne(rootfs: string, target: string): Promise<void> {
  const todo = split(target);
  let done: string[] = [];
  for (let links = 0; todo.length; ) {
    const part = todo.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const at = join(rootfs, ...done, part);
    const st = await lstat(at).catch(() => undefined);
    if (!st?.isSymbolicLink()) {
      done.push(part);
      continue;
    }
    if (++links > 40) throw new HullError('invalid', `mount target ${target}: too many levels of symbolic links`);
    const link = await readlink(at);
    if (escapes(link, done.length)) {
      throw new HullError('invalid', `mount target ${target} goes through the symlink /${[...done, part].join('/')} -> ${link}, which leads out of the container's root filesystem: not mounting there`);
    }
    if (link.startsWith('/')) done = [];
    todo.unshift(...split(link));
  }
}

/** Does a link's target, read at depth `depth`, climb above the root with `..`? */
function escapes(link: string, depth: number): boolean {
  let d = link.startsWith('/') ? 0 : depth;
  for (const p of split(link)) {
    if (p === '..') {
      if (--d < 0) return true;
    } else d++;
  }
  return false;
}
