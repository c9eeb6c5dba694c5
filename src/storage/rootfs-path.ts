import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../core/errors.js';

/**
 * Resolve a path inside a root filesystem the way the container sees it:
 * symlinks are followed relative to `root` (an absolute target restarts at
 * `root`, `..` stops at `root`), so the result is always under `root` and
 * never on the host's own files. Like Go's securejoin. With followLast false
 * a symlink at the last component is returned as itself.
 *
 * The answer is a path, which the kernel walks again when it is used: sound
 * only for a tree nothing changes meanwhile (a build context, a rootfs before
 * its container starts). For a running container's files, walk with
 * descriptors (root-dir.ts), as `hull cp` does.
 */
export async function resolveInRoot(root: string, path: string, followLast = true): Promise<string> {
  const todo = split(path);
  let done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = join(root, ...done, part);
    const st = await lstat(candidate).catch(() => null);
    if (st?.isSymbolicLink() && (todo.length > 0 || followLast)) {
      if (++links > 40) throw invalid(`too many levels of symbolic links in "${path}"`);
      const target = await readlink(candidate);
      if (target.startsWith('/')) done = [];
      todo.unshift(...split(target));
      continue;
    }
    done.push(part);
  }
  return join(root, ...done);
}

function split(p: string): string[] {
  return p.split('/').filter((x) => x !== '' && x !== '.');
}
