import { closeSync, fstatSync, openSync } from 'node:fs';
import { mkdir, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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

/** Mount what `fd` (O_PATH) is, whatever its path names now, at `at` (with the mounts under it unless `recursive` is false). */
export async function stageFd(fd: number, at: string, recursive = true): Promise<string> {
  {
    const isDir = fstatSync(fd).isDirectory();
    await unstage(at);
    if (isDir) await mkdir(at, { recursive: true, mode: 0o700 });
    else {
      await mkdir(at.slice(0, at.lastIndexOf('/')), { recursive: true, mode: 0o700 });
      await writeFile(at, '', { mode: 0o600 });
    }
    // -c: no canonicalizing, so mount(2) gets the descriptor's magic link, not a path walked again.
    await run(['mount', '-c', recursive ? '--rbind' : '--bind', '/proc/self/fd/3', at], { fds: [fd], timeoutMs: 30_000 });
    return at;
  }
}

/**
 * A source shared into a VM (virtiofs, which shares directories): pinned as
 * `stage` does, a directory at `at`; a file as `at/f`, the only entry of a
 * small read-only tmpfs at `at` (a mount, so that staging again, as a start
 * after an attach does, leaves the one a running server took intact).
 * Read-only: a plain bind (the mounts under the source are not carried:
 * util-linux cannot make a tree of them read-only, and walking it by path
 * would follow what the source's owner can change), made read-only, so
 * whatever serves it from that mount cannot write. A socket or device cannot
 * be served through a shared directory: refused.
 */
export async function stageShare(source: string, at: string, o: { create: boolean; readOnly: boolean }): Promise<{ file: boolean }> {
  if (o.create) await mkdir(source, { recursive: true, mode: 0o755 }).catch((e: unknown) => (errno(e) === 'EEXIST' ? undefined : Promise.reject(e)));
  const fd = openSource(source);
  try {
    const st = fstatSync(fd);
    if (!st.isDirectory() && !st.isFile()) throw new HullError('invalid', `${source} is neither a directory nor a regular file: it cannot be shared into a VM`);
    const file = !st.isDirectory();
    await unstage(at);
    if (file) {
      await mkdir(at, { recursive: true, mode: 0o700 });
      await mountC(['-t', 'tmpfs', '-o', 'size=4k,nr_inodes=4,mode=0700,nosuid,nodev,noexec', 'tmpfs', at]);
    }
    const path = file ? join(at, 'f') : at;
    await stageFd(fd, path, !o.readOnly);
    // Private: the server's mount namespace copies it, and a later unmount here (the next staging, the
    // container's exit) must not reach into that copy (the host's mounts are usually shared).
    await mountC(['--make-rprivate', at]);
    if (file) await mountC(['-o', 'remount,bind,ro', at]);
    if (o.readOnly) await mountC(['-o', 'remount,bind,ro', path]);
    return { file };
  } finally {
    closeSync(fd);
  }
}

/** Undo `stageShare` (`at` is a mount either way: its tree goes with it). */
export const unstageShare = (at: string): Promise<void> => unstage(at);

const mountC = (args: string[]) => run(['mount', '-c', ...args], { timeoutMs: 30_000 }).then(() => undefined);

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
