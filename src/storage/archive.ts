import { asCopyError } from './archive-extract.js';
import { packTree, type Packed } from './archive-pack.js';
import { sourceSpec } from './cp-rules.js';
import { notADirectory, type IdMap, type RootDir } from './root-dir.js';
import { notFound } from '../core/errors.js';

export { extractTo, type ExtractOptions } from './archive-extract.js';
export type { Packed } from './archive-pack.js';

/**
 * Copying files in and out of a tree (hull cp), as tar streams: `packPath`
 * reads a path of a RootDir (a container's rootfs and its mounts, or the
 * host's `/`), `extractTo` writes one in. Both walk through directory
 * handles (root-dir.ts), so a container changing its files during the copy
 * cannot send either outside its tree; docker cp's rules for paths are in
 * cp-rules.ts.
 */
export async function packPath(root: RootDir, path: string, o: { followLink?: boolean; ids?: IdMap } = {}): Promise<Packed> {
  const spec = sourceSpec(path, o.followLink);
  const w = root.walk();
  try {
    const loc = w.resolve(spec.path, { followLast: spec.followLast });
    if (loc.missing) throw notFound(`"${spec.path}"`);
    if (spec.mustBeDir && !loc.stat?.isDirectory()) throw notADirectory(spec.path);
    const packed = packTree(root, loc, spec.top || loc.name || '.', o.ids);
    return { stream: packed.stream, done: packed.done.finally(() => w.close()) };
  } catch (e) {
    w.close();
    throw asCopyError(e);
  }
}
