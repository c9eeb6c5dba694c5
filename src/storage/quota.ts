import { mkdir, readFile } from 'node:fs/promises';
import { HullError } from '../core/errors.js';
import { run } from '../sys/run.js';

/**
 * Size limits on a container's writable layer (`--storage-opt size=`).
 * overlayfs has none of its own: the filesystem under the upper dir must
 * enforce it, and only some can.
 *
 *  - xfs mounted with prjquota (docker's overlay2 `size`): the container's
 *    rootfs directory gets a project id of its own and a hard block limit
 *    (xfs_quota). A write past it fails with ENOSPC.
 *  - btrfs: the rootfs directory is a subvolume of its own with a qgroup
 *    limit (as docker's btrfs driver); quotas are turned on for the
 *    filesystem the first time. A write past it fails with EDQUOT.
 *  - anything else (ext4, tmpfs, xfs without prjquota, a kernel without
 *    quota support): no limit can be enforced; `hull info` says why, and a
 *    size is refused rather than ignored.
 *
 *   const q = await detectQuota(root);                  // once, at daemon start
 *   await prepareLimited(q, dir, bytes, projectId);     // at create, before the overlay's dirs are made
 *   await releaseLimited(q, dir, projectId);             // at rm, after the overlay is unmounted
 */
export interface QuotaSupport {
  /** The filesystem under the root, e.g. `ext4`, `xfs`, `btrfs`. */
  filesystem: string;
  mountPoint: string;
  /** How a size is enforced here, when it can be. */
  method?: 'xfs-project' | 'btrfs-qgroup';
  /** Why not, when it cannot. */
  reason?: string;
}

interface Mount {
  point: string;
  fstype: string;
  options: string[];
}

async function mountOf(path: string): Promise<Mount> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  let best: Mount = { point: '/', fstype: 'unknown', options: [] };
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const point = pre.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const [fstype, , superOpts = ''] = post.split(' ');
    const under = path === point || path.startsWith(point === '/' ? '/' : `${point}/`);
    if (under && point.length >= best.point.length) best = { point, fstype, options: superOpts.split(',') };
  }
  return best;
}

const has = (argv: string[]) => run(argv, { allowFailure: true, timeoutMs: 10_000 }).then((r) => r.code === 0, () => false);

/** Quotas already on: `qgroup show` fails with ENOENT when they are off. */
const btrfsQuotaOn = (mountPoint: string) => has(['btrfs', 'qgroup', 'show', mountPoint]);

/** What `dir` (the daemon's containers directory) can enforce. */
export async function detectQuota(dir: string): Promise<QuotaSupport> {
  const m = await mountOf(dir);
  const base = { filesystem: m.fstype, mountPoint: m.point };
  if (m.fstype === 'xfs') {
    if (!m.options.some((o) => ['prjquota', 'pquota', 'pqnoenforce'].includes(o)) || m.options.includes('pqnoenforce'))
      return { ...base, reason: `xfs at ${m.point} is not mounted with prjquota (pquota): mount it so for size limits` };
    if (!(await has(['xfs_quota', '-V']))) return { ...base, reason: 'xfs_quota is not installed (xfsprogs)' };
    return { ...base, method: 'xfs-project' };
  }
  if (m.fstype === 'btrfs') {
    if (!(await has(['btrfs', '--version']))) return { ...base, reason: 'btrfs is not installed (btrfs-progs)' };
    return { ...base, method: 'btrfs-qgroup' };
  }
  return { ...base, reason: `${m.fstype} at ${m.point} cannot limit one directory's size: use xfs mounted with prjquota, or btrfs` };
}

export function requireQuota(q: QuotaSupport): void {
  if (!q.method) throw new HullError('unavailable', `--storage-opt size is not supported here: ${q.reason}`);
}

/** At daemon start: drop the qgroups of subvolumes deleted before (see releaseLimited). Best effort. */
export async function clearStale(q: QuotaSupport): Promise<void> {
  if (q.method === 'btrfs-qgroup') await run(['btrfs', 'qgroup', 'clear-stale', q.mountPoint], { allowFailure: true, timeoutMs: 60_000 });
}

/** Make `dir` (absent yet) a place whose contents may hold at most `bytes`. */
export async function prepareLimited(q: QuotaSupport, dir: string, bytes: number, projectId: number): Promise<void> {
  requireQuota(q);
  if (q.method === 'btrfs-qgroup') {
    if (!(await btrfsQuotaOn(q.mountPoint))) await run(['btrfs', 'quota', 'enable', q.mountPoint], { timeoutMs: 60_000 });
    await run(['btrfs', 'subvolume', 'create', dir], { timeoutMs: 30_000 });
    await run(['btrfs', 'qgroup', 'limit', String(bytes), dir], { timeoutMs: 30_000 });
    return;
  }
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const xq = (cmd: string) => run(['xfs_quota', '-x', '-c', cmd, q.mountPoint], { timeoutMs: 30_000 });
  await xq(`project -s -p ${dir} ${projectId}`);
  await xq(`limit -p bhard=${bytes} ${projectId}`);
}

/** Undo prepareLimited once `dir` is unmounted; then the caller removes it. Best effort: a leftover limit holds nothing. */
export async function releaseLimited(q: QuotaSupport, dir: string, projectId: number): Promise<void> {
  if (q.method === 'btrfs-qgroup') {
    const id = (await run(['btrfs', 'inspect-internal', 'rootid', dir], { allowFailure: true, timeoutMs: 10_000 })).stdout.trim();
    if (!/^\d+$/.test(id) || id === '5') return;
    await run(['btrfs', 'subvolume', 'delete', dir], { allowFailure: true, timeoutMs: 60_000 });
    // The qgroup can only go once btrfs's cleaner has freed the subvolume's extents, which may
    // take a commit interval (30 s): not waited for here; clearStale at the next start takes it.
    await run(['btrfs', 'qgroup', 'destroy', `0/${id}`, q.mountPoint], { allowFailure: true, timeoutMs: 30_000 });
    return;
  }
  if (q.method === 'xfs-project') await run(['xfs_quota', '-x', '-c', `limit -p bhard=0 ${projectId}`, q.mountPoint], { allowFailure: true, timeoutMs: 30_000 });
}
