import { rm } from 'node:fs/promises';
import { HullError } from '../../core/errors.js';
import { isMounted } from './mounts.js';

/** A directory tree of Hull's own deleted, refusing one that is a mount point (its files are someone else's). */
export async function removeTree(path: string): Promise<void> {
  if (await isMounted(path)) throw new HullError('internal', `${path} is a mount point: not deleting it`);
  await rm(path, { recursive: true, force: true });
}
