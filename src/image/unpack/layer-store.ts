import { mkdir, mkdtemp, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { notFound } from '../../core/errors.js';
import type { ContentStore } from '../content/content-store.js';
import { digestHex } from '../content/digest.js';
import { lstatOrNull } from './safe-path.js';
import { unpack } from './unpack-pool.js';

export const DEFAULT_MAX_LAYER_BYTES = 8 * 1024 ** 3;

/** A layer as an image names it: the blob that carries it and the digest of its uncompressed tar. */
export interface LayerRef {
  digest: string;
  diffId: string;
}

/**
 * LayerStore: each layer unpacked once, at
 * `<root>/image/layers/sha256/<diff_id hex>/diff`, and shared read-only by
 * every container as an overlay lowerdir. A layer is unpacked into a private
 * temp dir and renamed into place only when whole and verified against its
 * diff_id, so a directory in `layers/` is always complete. Concurrent
 * requests for one layer share a single unpack.
 *
 *   const dir = await layers.ensure({ digest: blob, diffId });   // unpacks if missing
 */
export class LayerStore {
  readonly layersDir: string;
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly content: ContentStore,
    imageRoot: string,
    private readonly maxLayerBytes = DEFAULT_MAX_LAYER_BYTES,
  ) {
    this.layersDir = join(imageRoot, 'layers', 'sha256');
  }

  diffDir(diffId: string): string {
    return join(this.layersDir, digestHex(diffId), 'diff');
  }

  async has(diffId: string): Promise<boolean> {
    return (await lstatOrNull(this.diffDir(diffId))) !== null;
  }

  /** The unpacked layer's directory, unpacking it first if needed. */
  ensure(layer: LayerRef): Promise<string> {
    const running = this.inflight.get(layer.diffId);
    if (running) return running;
    const p = this.ensureOnce(layer).finally(() => this.inflight.delete(layer.diffId));
    this.inflight.set(layer.diffId, p);
    return p;
  }

  async delete(diffId: string): Promise<void> {
    await rm(join(this.layersDir, digestHex(diffId)), { recursive: true, force: true });
  }

  private async ensureOnce(layer: LayerRef): Promise<string> {
    const dir = this.diffDir(layer.diffId);
    if (await this.has(layer.diffId)) return dir;
    if (!(await this.content.hasBlob(layer.digest))) throw notFound(`layer blob ${layer.digest}`);
    await mkdir(this.content.tmpDir, { recursive: true });
    const tmp = await mkdtemp(join(this.content.tmpDir, 'layer-'));
    try {
      // The unpack flushes the files before returning (sync -f, off the main thread), so the
      // rename below cannot publish a layer that a crash would leave with empty files.
      await this.unpackInto(layer, join(tmp, 'diff'));
      await this.publish(tmp, layer.diffId);
      return dir;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  private async unpackInto(layer: LayerRef, dir: string): Promise<void> {
    await unpack({ blob: this.content.blobPath(layer.digest), dir, digest: layer.digest, diffId: layer.diffId, maxBytes: this.maxLayerBytes });
  }

  /** Rename the finished layer into place; if another process won the race, keep theirs. */
  private async publish(tmp: string, diffId: string): Promise<void> {
    await mkdir(this.layersDir, { recursive: true });
    try {
      await rename(tmp, join(this.layersDir, digestHex(diffId)));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
    const fh = await open(this.layersDir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}
