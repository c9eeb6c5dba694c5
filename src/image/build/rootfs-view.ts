import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError } from '../../core/errors.js';
import { run } from '../../sys/run.js';

/** A read-only view of a stack of layers, as a container would see it. */
export interface RootfsView {
  path: string;
  release(): Promise<void>;
}

/**
 * Mount `layerDirs` (bottom first) read-only as one tree under `tmpDir`, so a
 * build can resolve paths, follow symlinks and read files the way a container
 * would: what COPY --from reads, what COPY's destination resolves through,
 * where --chown finds /etc/passwd. No layers: an empty dir; one: the layer
 * itself (its whiteouts hide nothing below it).
 */
export async function openView(tmpDir: string, layerDirs: string[]): Promise<RootfsView> {
  await mkdir(tmpDir, { recursive: true });
  const dir = await mkdtemp(join(tmpDir, 'view-'));
  const drop = () => rm(dir, { recursive: true, force: true });
  if (layerDirs.length <= 1) return { path: layerDirs[0] ?? dir, release: drop };
  const opts = `ro,lowerdir=${[...layerDirs].reverse().join(':')}`;
  if (opts.length > 4000) throw new HullError('invalid', 'too many image layers for one overlay mount');
  await run(['mount', '-t', 'overlay', 'overlay', '-o', opts, dir], { timeoutMs: 30_000 });
  return {
    path: dir,
    release: async () => {
      const r = await run(['umount', dir], { allowFailure: true, timeoutMs: 30_000 });
      if (r.code !== 0) await run(['umount', '-l', dir], { timeoutMs: 30_000 });
      await drop();
    },
  };
}

/** uid and gid for `user[:group]` (names or numbers), looked up in the view's /etc/passwd and /etc/group as docker does. */
export async function resolveOwner(root: string, spec: string): Promise<{ uid: number; gid: number }> {
  const [user, group] = spec.split(':');
  const passwd = await readFile(join(root, 'etc/passwd'), 'utf8').catch(() => '');
  const groups = await readFile(join(root, 'etc/group'), 'utf8').catch(() => '');
  const find = (db: string, name: string) => db.split('\n').map((l) => l.split(':')).find((f) => f[0] === name);
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(user)) {
    uid = Number(user);
    gid = group === undefined ? uid : NaN;
  } else {
    const u = find(passwd, user);
    if (!u) throw new HullError('invalid', `unable to find user ${user}: no matching entries in passwd file`);
    uid = Number(u[2]);
    gid = Number(u[3]);
  }
  if (group !== undefined) {
    if (/^\d+$/.test(group)) gid = Number(group);
    else {
      const g = find(groups, group);
      if (!g) throw new HullError('invalid', `unable to find group ${group}: no matching entries in group file`);
      gid = Number(g[2]);
    }
  }
  return { uid, gid };
}
