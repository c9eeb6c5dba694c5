import { lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../../core/errors.js';

const NAME_MAX = 255;

/**
 * Entry names in a layer are untrusted. A name is accepted only as a plain
 * relative path: no absolute paths, no `..` anywhere (real layers never need
 * one), no NUL. `./` prefixes and repeated or trailing slashes are tolerated,
 * as tar writes them. The result is the list of components; [] is the root.
 */
export function entryComponents(name: string, what: string): string[] {
  if (name.includes('\0')) throw invalid(`${what} "${name}": name contains a NUL byte`);
  if (name.startsWith('/')) throw invalid(`${what} "${name}": absolute paths are not allowed in a layer`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalid(`${what} "${name}": ".." path components are not allowed in a layer`);
  // Linux's NAME_MAX; a longer component would fail later as ENAMETOOLONG, which reads like a host fault.
  if (parts.some((p) => Buffer.byteLength(p) > NAME_MAX)) throw invalid(`${what} "${name}": a path component is longer than ${NAME_MAX} bytes`);
  return parts;
}

/**
 * Make sure the parent directories of `parts` exist under `root` and that
 * none of them is a symlink, so nothing written next can land outside
 * `root`. lstat is enough: the tree is a fresh private directory that only
 * this unpack writes, one entry at a time, so nothing can swap a component
 * between the check and the write. Missing parents are created (0755, as
 * tar does for directories a layer implies).
 */
export async function safeParent(root: string, parts: string[], entryName: string): Promise<string> {
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    dir = join(dir, part);
    const st = await lstatOrNull(dir);
    if (st === null) {
      await mkdir(dir, { mode: 0o755 });
    } else if (st.isSymbolicLink()) {
      throw invalid(`layer entry "${entryName}": its path goes through the symlink "${rel(root, dir)}"`);
    } else if (!st.isDirectory()) {
      throw invalid(`layer entry "${entryName}": "${rel(root, dir)}" is not a directory`);
    }
  }
  return dir;
}

export async function lstatOrNull(path: string) {
  try {
    return await lstat(path);
  } catch (e) {
    // ENOTDIR: a parent is no longer a directory, so nothing is there either.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
}

const rel = (root: string, p: string) => p.slice(root.length + 1);
