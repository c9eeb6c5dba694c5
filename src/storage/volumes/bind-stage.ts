import { closeSync, fstatSync, openSync } from 'node:fs';
import { mkdir, rmdir, unlink, writeFile } from 'node:fs/promises';
import { HullError, notFound } from '../../core/errors.js';
import { run } from '../../sys/run.js';
import { O_PATH, errno } from '../root-dir.js';
import { unmount } from './mounts.js';

/**
 * A bind mount's host source, pinned before the runtime sees it.
 *
 * The source is opened once (O_PATH) and that very directory or file is
 * bind-mounted, through `/proc/self/fd/3` of `mount`, onto a staging path
 * under Hull's root; the runtime mounts the staging path. So a source that is
 * swapped for a symlink (or renamed away) after the check cannot send the
 * container anywhere else: what was checked is what is mounted (the runtime
 * itself would follow the path again). Staging under <root> also makes the
 * source visible to crun in its mount namespace on hybrid-cgroup hosts, which
 * a host path mounted after the daemon started is not (docs/design.md).
 *
 *   const staged = await stage('/srv/site', '<root>/binds/<id>/0', { create: true });
 *   ...the runtime bind-mounts `staged`...
 *   await unstage('<root>/binds/<id>/0');
 */
export async function stage(source: string, at: string, o: { create: boolean }): Promise<string> {
  if (!source.startsWith('/') || source.includes('\0')) throw new HullError('invalid', `bind source ${JSON.stringify(source)} must be an absolute host path`);
  if (o.create) await mkdir(source, { recursive: true, mode: 0o755 }).catch((e: unknown) => (errno(e) === 'EEXIST' ? undefined : Promise.reject(e)));
  const fd = openSource(source);
  try {
    return await stageFd(fd, at);
  } finally {
    closeSync(fd);
  }
}

/** Mount what `fd` (O_PATH) is, whatever its path names now, at `at`. */
export async function stageFd(fd: number, at: string): Promise<string> {
  {
    const isDir = fstatSync(fd).isDirectory();
    await unstage(at);
    if (isDir) await mkdir(at, { recursive: true, mode: 0o700 });
    else {
      await mkdir(at.slice(0, at.lastIndexOf('/')), { recursive: true, mode: 0o700 });
      await writeFile(at, '', { mode: 0o600 });
    }
    // -c: no canonicalizing, so mount(2) gets the descriptor's magic link, not a path walked again.
    await run(['mount', '-c', '--rbind', '/proc/self/fd/3', at], { fds: [fd], timeoutMs: 30_000 });
    return at;
  }
}

function openSource(source: string): number {
  try {
    return openSync(source, O_PATH);
  } catch (e) {
    if (errno(e) === 'ENOENT') throw notFound(`bind source path ${source}`);
    throw new HullError('invalid', `bind source path ${source}: ${(e as Error).message}`);
  }
}

/** Unmount and remove the staging path; never a recursive delete (it could reach through a mount). */
export async function unstage(at: string): Promise<void> {
  await unmount(at, { recursive: true });
  await rmdir(at).catch(async (e: unknown) => {
    if (errno(e) === 'ENOTDIR') await unlink(at).catch(() => undefined);
    else if (errno(e) !== 'ENOENT') throw e;
  });
}
