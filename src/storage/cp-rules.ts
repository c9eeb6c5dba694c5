import { invalid, notFound } from '../core/errors.js';
import { split } from './root-dir.js';

/**
 * docker cp's rules for where a copy lands, on either side (the container's
 * or the host's): pure functions of how the paths were written and what is
 * found there.
 *
 * A source path ending in `/.` copies the directory's contents (the archive's
 * top entry is `.`); ending in `/` it must be a directory. A destination
 * ending in `/` names a directory; ending in `/.` one that must exist (what
 * `hull cp - CONTAINER:DIR` sends).
 */

export interface SourceSpec {
  path: string;
  /** The archive's top entry: the last name written, `.` for the contents of a directory; '' when the path ends in `..` (take the name it resolves to). */
  top: string;
  /** Follow a symlink named last (a trailing `/`, or -L). */
  followLast: boolean;
  mustBeDir: boolean;
}

export function sourceSpec(raw: string, followLink = false): SourceSpec {
  if (raw === '') throw invalid('the source path is empty');
  const contents = /(^|\/)\.$/.test(raw);
  const mustBeDir = contents || raw.endsWith('/');
  const last = split(raw).at(-1);
  const top = contents || !last ? '.' : last === '..' ? '' : last;
  return { path: raw, top, followLast: followLink || mustBeDir, mustBeDir };
}

export interface DestSpec {
  path: string;
  wantsDir: boolean;
  mustExist: boolean;
}

export function destSpec(raw: string): DestSpec {
  if (raw === '') throw invalid('the destination path is empty');
  const mustExist = /(^|\/)\.$/.test(raw);
  return { path: raw, wantsDir: mustExist || raw.endsWith('/'), mustExist };
}

export interface DestFound {
  exists: boolean;
  isDir: boolean;
  /** A symlink at the destination that points at nothing. */
  dangling: boolean;
  /** The name the destination has (or would have) in its directory. */
  name: string;
}

/** Into the destination directory itself, or into its parent under `rename`. */
export type Placement = { into: 'dest' } | { into: 'parent'; rename: string };

export function place(d: DestSpec, found: DestFound, topIsDir: boolean): Placement {
  if (found.exists && found.isDir) return { into: 'dest' };
  if (found.exists) {
    if (d.wantsDir) throw invalid(`destination "${d.path}" is not a directory`);
    if (topIsDir) throw invalid(`cannot copy a directory onto the file "${d.path}"`);
    return { into: 'parent', rename: found.name };
  }
  if (found.dangling) throw invalid(`destination "${d.path}" is a symlink to nothing: not copying through it`);
  if (d.mustExist || (d.wantsDir && !topIsDir)) throw notFound(`destination directory "${d.path}"`);
  return { into: 'parent', rename: found.name };
}
