import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IdMap } from '../../core/instance.js';
import * as overlay from '../../storage/overlay.js';
import { prepareLimited, releaseLimited, requireQuota, type QuotaSupport } from '../../storage/quota.js';
import { readInt } from '../../sys/fs.js';

/**
 * What a container's rootfs directory gets at create beyond the overlay's
 * own directories: a size limit (--storage-opt size) and, in a user
 * namespace, its files given to the container's range.
 */

/** xfs project ids Hull gives start here, above the ones an administrator numbers by hand in /etc/projid. */
const FIRST_XFS_PROJECT = 1_000_000;

/**
 * --storage-opt size: the rootfs directory (upper and work) becomes a place
 * that holds at most that much, before the overlay's directories are made in
 * it (storage/quota.ts). xfs wants a project id of its own per container: the
 * next of a counter kept under the root (one daemon per root), never reused,
 * and remembered in the container's directory for rm.
 */
export class RootfsLimits {
  private projects = Promise.resolve(0);

  constructor(
    private root: string,
    private storage: QuotaSupport | undefined,
  ) {}

  async limit(containerDir: string, rootfsDir: string, bytes: number | undefined): Promise<void> {
    if (!bytes) return;
    const q = this.storage ?? { filesystem: 'unknown', mountPoint: '/', reason: 'the filesystem was not detected' };
    requireQuota(q);
    const project = q.method === 'xfs-project' ? await this.nextProject(containerDir) : 0;
    await prepareLimited(q, rootfsDir, bytes, project);
  }

  /** After the overlay is unmounted, before the directory goes. */
  async unlimit(containerDir: string, rootfsDir: string, bytes: number | undefined): Promise<void> {
    if (!bytes || !this.storage?.method) return;
    await releaseLimited(this.storage, rootfsDir, (await readInt(join(containerDir, 'xfs-project'))) ?? 0);
  }

  private nextProject(containerDir: string): Promise<number> {
    const counter = join(this.root, 'runtime', 'xfs-project-next');
    const next = this.projects.then(async () => {
      const n = (await readInt(counter)) ?? FIRST_XFS_PROJECT;
      await writeFile(counter, String(n + 1));
      await writeFile(join(containerDir, 'xfs-project'), String(n));
      return n;
    });
    this.projects = next.catch(() => 0);
    return next;
  }
}

/** A user namespace's container owns its rootfs: its own layer, and (as metadata copies) the image's files. */
export async function giveRootfs(rootfsDir: string, layerDirs: string[], map: IdMap): Promise<void> {
  await overlay.chownWritable(rootfsDir, map.hostUid, map.hostGid);
  const merged = await overlay.mount(rootfsDir, layerDirs, { metacopy: true });
  try {
    await overlay.shiftOwners(merged, map);
  } finally {
    await overlay.unmount(rootfsDir);
  }
}
