import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { HullError, isHullError, notFound } from '../../core/errors.js';
import type { ContentStore } from '../content/content-store.js';
import { digestHex } from '../content/digest.js';
import { run } from '../exec.js';
import { decompressor, detectCompression, MeteredStream } from './decompress.js';
import { lstatOrNull } from './safe-path.js';
import { TarApplier } from './tar-apply.js';

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
      await this.unpackInto(layer, join(tmp, 'diff'));
      // Flush the files before the rename publishes them, so a crash cannot leave a published layer with empty files.
      await run('sync', ['-f', tmp], 600_000);
      await this.publish(tmp, layer.diffId);
      return dir;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  private async unpackInto(layer: LayerRef, dir: string): Promise<void> {
    const what = `layer ${layer.digest}`;
    const blob = this.content.blobPath(layer.digest);
    const hash = createHash('sha256');
    const meter = new MeteredStream(hash, this.maxLayerBytes, what);
    const extract = tar.extract();
    await mkdir(dir, { mode: 0o755 });
    const applier = new TarApplier(dir);
    const feed = pipeline(createReadStream(blob), decompressor(await detectCompression(blob, what)), meter, extract);
    feed.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
    try {
      for await (const entry of extract) await applier.apply(entry);
      await feed;
    } catch (e) {
      extract.destroy(e as Error);
      const fed = await feed.then(() => undefined, (fe: unknown) => fe);
      // The first error that is ours (a refused entry, the size limit) explains more than a torn-down stream.
      throw classify(isHullError(e) || !isHullError(fed) ? e : fed, what);
    }
    await applier.finish();
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== layer.diffId) {
      throw new HullError('invalid', `${what}: uncompressed content is ${got}, but the image config says ${layer.diffId}`);
    }
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

/** Bad input (corrupt gzip, not a tar) is 'invalid'; a full disk is 'resource'; the rest 'internal'. */
function classify(e: unknown, what: string): HullError {
  if (isHullError(e)) return e;
  const err = e as NodeJS.ErrnoException;
  const msg = `${what}: ${err?.message ?? String(e)}`;
  if (err?.code === 'ENOSPC' || err?.code === 'EDQUOT') return new HullError('resource', msg);
  if (err?.syscall) return new HullError('internal', msg);
  return new HullError('invalid', msg);
}
