import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyedLock } from '../../core/keyed-lock.js';
import * as qcow2 from '../../storage/qcow2.js';
import { writeFileAtomic } from '../../sys/fs.js';
import { makeExt4, withMergedLayers } from './rootfs-image.js';

/**
 * RootfsCache: the ext4 image of an OCI image's layers, made once and shared
 * read-only by every VM-isolated container of that image; each container's
 * disk is a qcow2 overlay on it (copy-on-write, as a container's upper layer
 * is on its image's layers), so a create after the first costs one
 * `qemu-img create` instead of a `mke2fs -d` of the whole image.
 *
 *   <root>/ivm-base/<key>.ext4     key: a hash of the layer directories (content-addressed)
 *   <root>/ivm/<id>/disk.qcow2     backing file: the base, raw
 *   <root>/ivm/<id>/base           the key, so a base nobody uses any more can go
 *
 * A base is made under a temporary name and renamed when complete; the lock
 * per key keeps a removal from racing a create of the same image. The daemon
 * is the only writer, so the lock is in memory.
 */
export class RootfsCache {
  private lock = new KeyedLock();

  constructor(
    private readonly dir: string,
    /** Where instance directories are (<root>/ivm), to find which bases are in use. */
    private readonly instancesDir: string,
    private readonly o: { roomBytes: number },
  ) {}

  static key(layerDirs: string[]): string {
    return createHash('sha256').update(layerDirs.join('\n')).digest('hex').slice(0, 32);
  }

  basePath(key: string): string {
    return join(this.dir, `${key}.ext4`);
  }

  /** Make `disk` (qcow2) an overlay on the image's base, making the base first if it is not there. */
  async overlay(layerDirs: string[], disk: string, keyFile: string): Promise<void> {
    const key = RootfsCache.key(layerDirs);
    await this.lock.run(key, async () => {
      const base = this.basePath(key);
      if (!(await exists(base))) await this.make(layerDirs, base);
      await qcow2.createOverlay(base, disk, { baseFormat: 'raw' });
      await writeFileAtomic(keyFile, key);
    });
  }

  private async make(layerDirs: string[], base: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o711 }); // searchable: QEMU, as each instance's own user, reads its base (confine.ts)
    const tmp = await mkdtemp(join(this.dir, '.make-'));
    try {
      const out = join(tmp, 'base.ext4');
      await withMergedLayers(layerDirs, tmp, (merged) => makeExt4(merged, out, { journal: true, roomBytes: this.o.roomBytes }));
      await rename(out, base);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Remove the bases no instance directory names (after an rm; at daemon start, with half-made ones). */
  async prune(): Promise<void> {
    const used = new Set<string>();
    for (const id of await readdir(this.instancesDir).catch(() => [] as string[])) {
      const key = (await readFile(join(this.instancesDir, id, 'base'), 'utf8').catch(() => '')).trim();
      if (key) used.add(key);
    }
    for (const f of await readdir(this.dir).catch(() => [] as string[])) {
      if (f.startsWith('.make-')) {
        // A make in progress holds its key's lock; one left by a killed daemon is garbage.
        if (this.lock.idle()) await rm(join(this.dir, f), { recursive: true, force: true });
        continue;
      }
      const key = f.replace(/\.ext4$/, '');
      if (used.has(key)) continue;
      await this.lock.run(key, async () => {
        // Checked again under the lock: a create of the same image may have just taken it.
        const again = await readdir(this.instancesDir).catch(() => [] as string[]);
        for (const id of again) if ((await readFile(join(this.instancesDir, id, 'base'), 'utf8').catch(() => '')).trim() === key) return;
        await rm(join(this.dir, f), { force: true });
      });
    }
  }
}

const exists = (p: string) => stat(p).then(() => true, () => false);
