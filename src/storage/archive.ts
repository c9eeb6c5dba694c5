import { createWriteStream } from 'node:fs';
import { chmod, lchown, link, lstat, mkdir, rm, symlink, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { invalid } from '../core/errors.js';
import { spawnStream } from '../sys/run.js';
import { resolveInRoot } from './rootfs-path.js';

/**
 * Copying files in and out of a root filesystem (hull cp), as tar streams.
 * Extraction never leaves `root`: every entry's path is resolved inside it,
 * and an existing symlink at an entry's place is replaced, not written through.
 */
export function packPath(path: string): NodeJS.ReadableStream {
  return spawnStream(['tar', '-c', '-f', '-', '-C', dirname(path), '--', basename(path)]);
}

export interface ExtractOptions {
  /** Directory under root to extract into (already resolved). */
  into: string;
  /** Rename the archive's top-level entry (cp to a new name). */
  renameTop?: string;
  /** Keep owners from the archive (true inside containers, false on the host for non-root callers). */
  keepOwners: boolean;
}

export async function extractInto(root: string, archive: NodeJS.ReadableStream, o: ExtractOptions): Promise<void> {
  const ex = extract();
  const relInto = o.into.slice(root.length) || '/';
  ex.on('entry', (header, stream, next) => {
    void (async () => {
      let name = header.name.replace(/^\/+/, '');
      if (o.renameTop) {
        const [top, ...rest] = name.split('/');
        if (top) name = [o.renameTop, ...rest].join('/');
      }
      const target = await resolveInRoot(root, join(relInto, name), false);
      if (target === root) {
        stream.resume();
        return;
      }
      await mkdir(dirname(target), { recursive: true });
      const existing = await lstat(target).catch(() => null);
      if (existing && !(existing.isDirectory() && header.type === 'directory')) await rm(target, { recursive: true, force: true });
      switch (header.type) {
        case 'directory':
          await mkdir(target, { recursive: true });
          stream.resume();
          break;
        case 'file':
        case 'contiguous-file':
          await pipeline(stream, createWriteStream(target, { mode: header.mode ?? 0o644 }));
          break;
        case 'symlink':
          await symlink(header.linkname ?? '', target);
          stream.resume();
          break;
        case 'link': {
          const src = await resolveInRoot(root, join(relInto, header.linkname ?? ''), false);
          await link(src, target);
          stream.resume();
          break;
        }
        default:
          stream.resume(); // devices, fifos: not copied
          return;
      }
      if (header.type !== 'symlink') await chmod(target, header.mode ?? 0o644);
      if (o.keepOwners) await lchown(target, header.uid ?? 0, header.gid ?? 0);
      if (header.mtime && header.type !== 'symlink') await utimes(target, header.mtime, header.mtime);
    })().then(
      () => next(),
      (e) => next(e),
    );
  });
  try {
    await pipeline(archive, ex);
  } catch (e) {
    throw invalid(`cannot extract archive: ${(e as Error).message}`);
  }
}
