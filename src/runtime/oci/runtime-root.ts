import { createHash } from 'node:crypto';
import { access, mkdir, realpath, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from '../../sys/run.js';
import { readMounts } from './hybrid-ns.js';

/**
 * Where the OCI runtime is told Hull's root is. A --userns container's
 * runtime mounts its rootfs and bind sources as the container's root, an
 * unprivileged host uid, which must be able to search every directory above
 * them: with Hull's root under a 0700 directory it cannot (crun: `make
 * ROOTFS private: Permission denied`; runc: `mount ROOTFS ... permission
 * denied`). Docker refuses to start then; Hull instead also mounts the root
 * at /run/hull/roots/<hash> (0755/0711 all the way up) and names runtime
 * paths through it. The root is made a shared mount first and the alias its
 * peer, so each rootfs mounted under the root later appears under the alias
 * too, in crun's mount namespace on a hybrid host as well (aliasInNamespace).
 *
 *   const rt = await runtimeRoot(root);   // root itself when every directory above it is searchable
 *   rt.path(join(root, 'containers', id)) // → the same place, as the runtime should name it
 *   await rt.release();                   // at a clean shutdown with nothing mounted under the root
 */
export interface RuntimeRoot {
  /** The runtime's name for a path under the root (other paths as they are). */
  path(p: string): string;
  /** The alias, when there is one. */
  readonly alias?: string;
  release(): Promise<void>;
}

export const ALIAS_DIR = '/run/hull/roots';

/** Whether an unprivileged uid may search every directory above `path` (its "other" x bit). */
export async function searchableAbove(path: string): Promise<boolean> {
  for (let d = dirname(path); ; d = dirname(d)) {
    const st = await stat(d);
    if (!(st.mode & 0o001)) return false;
    if (d === '/') return true;
  }
}

export async function runtimeRoot(given: string): Promise<RuntimeRoot> {
  const root = await realpath(given);
  if (await searchableAbove(root)) return { path: (p) => p, release: async () => undefined };
  const alias = join(ALIAS_DIR, createHash('sha256').update(root).digest('hex').slice(0, 16));
  await mkdir(ALIAS_DIR, { recursive: true, mode: 0o711 });
  await mkdir(alias, { recursive: true, mode: 0o711 });
  const mounts = await readMounts();
  const top = (p: string) => mounts.filter((m) => m.point === p).at(-1);
  const marker = join(root, 'runtime', 'alias-root-bind');
  // Binding the root on itself would hide rootfs mounts already under it (a daemon restarted with containers running).
  if (!top(root) && mounts.some((m) => m.point.startsWith(`${root}/`))) throw new Error(`${root} has mounts under it and is not a mount itself: stop the containers and restart the daemon`);
  if (!top(root)) {
    await mount('--bind', root, root);
    await writeFile(marker, ''); // ours to undo (hybrid-ns.ts may have bound it, or it is a filesystem of its own)
  }
  if (!top(root)?.shared) await mount('--make-shared', root);
  if (!top(alias)) await mount('--bind', root, alias);
  return {
    alias,
    path: (p) => {
      for (const r of [root, given]) if (p === r || p.startsWith(`${r}/`)) return alias + p.slice(r.length);
      return p;
    },
    release: () => releaseAlias(root, alias, marker),
  };
}

/** crun's mount namespace on a hybrid host, made before the alias was: give it the alias too. */
export async function aliasInNamespace(nsenter: string, nsFile: string, root: string, alias: string): Promise<void> {
  const inNs = (argv: string[], allowFailure = false) => run([nsenter, `--mount=${nsFile}`, '--', ...argv], { timeoutMs: 10_000, allowFailure });
  if ((await inNs(['mountpoint', '-q', alias], true)).code === 0) return;
  await inNs(['mount', '--bind', root, alias]);
}

async function releaseAlias(root: string, alias: string, marker: string): Promise<void> {
  const mounts = await readMounts();
  if (mounts.some((m) => m.point.startsWith(`${root}/`) && !m.point.startsWith(join(root, 'runtime')))) return; // containers still mounted
  await run(['umount', '-l', alias], { allowFailure: true, timeoutMs: 10_000 });
  await rmdir(alias).catch(() => undefined);
  const ours = await access(marker).then(() => true, () => false);
  if (ours && mounts.filter((m) => m.point === root).length && !mounts.some((m) => m.point.startsWith(`${root}/runtime/ns`))) {
    await run(['umount', '-l', root], { allowFailure: true, timeoutMs: 10_000 });
    await rm(marker, { force: true });
  }
}

const mount = (...args: string[]) => run(['mount', ...args], { timeoutMs: 10_000 });
