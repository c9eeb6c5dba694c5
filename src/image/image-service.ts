import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict } from '../core/errors.js';
import type { Image } from '../core/image.js';
import { shortId } from '../core/ids.js';
import type { Store } from '../store/store.js';
import { ContentStore } from './content/content-store.js';
import { ImageRecords } from './image-records.js';
import { type ArchiveImage, importArchive } from './import/import-archive.js';
import { hostArchitecture, type Platform } from './oci-types.js';
import { resolveRef } from './resolve.js';
import { RwLock } from './rw-lock.js';
import { DEFAULT_MAX_LAYER_BYTES, LayerStore } from './unpack/layer-store.js';

export interface ImageServiceOptions {
  /** Refuse a layer whose uncompressed tar is larger than this (decompression bombs). Default 8 GiB. */
  maxLayerBytes?: number;
  /** The platform to take from multi-platform archives. Default: this host's, linux. */
  platform?: Platform;
}

export interface RemoveOptions {
  force?: boolean;
  inUse: (imageId: string) => Promise<boolean>;
}

export const BUILTIN_NAME = 'busybox:latest';

/**
 * ImageService: the local images the engine runs containers from.
 *
 *   importPath  archive → verified blobs in the content store → layers unpacked
 *               (so a bad layer fails the import) → image and tag documents
 *   resolve     name, id or id prefix → Image
 *   layerDirs   Image → unpacked layer dirs, bottom first, for overlay lowerdirs
 *   remove      untag, or delete the image with the blobs and layers no other image uses
 *
 * Everything lives under `<root>/image/`: blobs/, layers/, tmp/. Call
 * `cleanupTmp()` once at daemon start to clear what a crash left in tmp/.
 */
export class ImageService {
  readonly content: ContentStore;
  readonly layers: LayerStore;
  private readonly records: ImageRecords;
  private readonly lock = new RwLock();
  private readonly platform: Platform;

  constructor(root: string, store: Store, opts: ImageServiceOptions = {}) {
    const imageRoot = join(root, 'image');
    this.content = new ContentStore(imageRoot);
    this.layers = new LayerStore(this.content, imageRoot, opts.maxLayerBytes ?? DEFAULT_MAX_LAYER_BYTES);
    this.records = new ImageRecords(store);
    this.platform = opts.platform ?? { os: 'linux', architecture: hostArchitecture() };
  }

  importPath(path: string, name?: string): Promise<Image[]> {
    return this.lock.exclusive(async () => {
      const created = new Set<string>();
      let found: ArchiveImage[] = [];
      try {
        found = await importArchive(path, this.content, { name, platform: this.platform, created });
        for (const { image } of found) await this.unpackAll(image);
        for (const { image, tags } of found) await this.records.save(image, tags);
        return Promise.all(found.map(async ({ image }) => (await this.records.get(image.id)) ?? image));
      } catch (e) {
        // Layers this failed import unpacked are of no use unless another image has them.
        await this.collectLayers(found.flatMap((f) => f.image.diffIds)).catch(() => undefined);
        throw e;
      } finally {
        await this.collectBlobs([...created]);
      }
    });
  }

  list(): Promise<Image[]> {
    return this.records.list();
  }

  async resolve(ref: string): Promise<Image> {
    return (await resolveRef(this.records, ref)).image;
  }

  remove(ref: string, opts: RemoveOptions): Promise<{ untagged: string[]; deleted: string[] }> {
    return this.lock.exclusive(async () => {
      const { image, tag } = await resolveRef(this.records, ref);
      // A name on an image with other names only loses that name, as `docker rmi` does.
      if (tag && image.tags.length > 1) {
        await this.records.untag([tag]);
        return { untagged: [tag], deleted: [] };
      }
      if (!tag && image.tags.length > 1 && !opts.force) {
        throw conflict(`image ${shortId(image.id.slice(7))} has several names (${image.tags.join(', ')}): remove them by name, or force`);
      }
      if (await opts.inUse(image.id)) {
        if (!opts.force) throw conflict(`image "${ref}" is in use by a container: remove the container first, or force`);
        // Forced while in use: drop the names but keep the image, whose layers the container still mounts.
        await this.records.untag(image.tags);
        return { untagged: image.tags, deleted: [] };
      }
      const untagged = await this.records.delete(image.id);
      const gone = await this.collectLayers(image.diffIds);
      await this.collectBlobs([image.manifestDigest, image.id, ...image.layers.map((l) => l.digest)]);
      return { untagged, deleted: [image.id, ...gone] };
    });
  }

  layerDirs(image: Image): Promise<string[]> {
    return this.lock.shared(() => this.unpackAll(image));
  }

  async ensureBuiltin(layoutDir: string): Promise<void> {
    if (await this.records.getTag(BUILTIN_NAME)) return;
    await this.importPath(layoutDir, BUILTIN_NAME);
  }

  /** Remove leftovers of writes and unpacks a crash interrupted. Only safe before any other call. */
  async cleanupTmp(): Promise<void> {
    await mkdir(this.content.tmpDir, { recursive: true });
    for (const name of await readdir(this.content.tmpDir)) await rm(join(this.content.tmpDir, name), { recursive: true, force: true });
  }

  /** Unpack every layer (in parallel); settle all before failing, so none is still being written after. */
  private async unpackAll(image: Image): Promise<string[]> {
    const results = await Promise.allSettled(image.layers.map((l, i) => this.layers.ensure({ digest: l.digest, diffId: image.diffIds[i] })));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.map((r) => (r as PromiseFulfilledResult<string>).value);
  }

  /** Delete the given blobs unless a stored image still uses them. */
  private async collectBlobs(candidates: string[]): Promise<void> {
    if (candidates.length === 0) return;
    const used = new Set<string>();
    for (const i of await this.records.list()) [i.id, i.manifestDigest, ...i.layers.map((l) => l.digest)].forEach((d) => used.add(d));
    for (const d of candidates) if (!used.has(d)) await this.content.deleteBlob(d);
  }

  /** Delete the given unpacked layers unless a stored image still uses them; returns those deleted. */
  private async collectLayers(diffIds: string[]): Promise<string[]> {
    const used = new Set((await this.records.list()).flatMap((i) => i.diffIds));
    const gone = [...new Set(diffIds)].filter((d) => !used.has(d));
    for (const d of gone) await this.layers.delete(d);
    return gone;
  }
}
