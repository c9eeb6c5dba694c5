import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { conflict, isHullError } from '../core/errors.js';
import type { EventSink } from '../core/events.js';
import type { Image } from '../core/image.js';
import { shortId } from '../core/ids.js';
import type { Store } from '../store/store.js';
import { Builder, type BuildContainers } from './build/builder.js';
import type { BuildState } from './build/state.js';
import { ContentStore } from './content/content-store.js';
import { imageFromManifest } from './image-from-manifest.js';
import { ImageRecords } from './image-records.js';
import { type ArchiveImage, importArchive } from './import/import-archive.js';
import { hostArchitecture, type Platform } from './oci-types.js';
import { Pins } from './pins.js';
import { normalizeTag } from './reference.js';
import { RegistryService } from './registry/registry-service.js';
import { resolveRef } from './resolve.js';
import { RwLock } from './rw-lock.js';
import { saveArchive, type SaveEntry, type SaveFormat } from './save-archive.js';
import { DEFAULT_MAX_LAYER_BYTES, LayerStore } from './unpack/layer-store.js';
import { run } from '../sys/run.js';

export interface ImageServiceOptions {
  /** Refuse a layer whose uncompressed tar is larger than this (decompression bombs). Default 8 GiB. */
  maxLayerBytes?: number;
  /** The platform to take from multi-platform archives. Default: this host's, linux. */
  platform?: Platform;
  /** Registries (`HOST[:PORT]`) to reach without verified TLS, as the daemon's --insecure-registry. */
  insecureRegistries?: string[];
  /** PATCH chunk size for pushing large blobs. */
  pushChunkBytes?: number;
  /** Where image events (pull, push, tag, untag, delete, load, import) go. */
  events?: EventSink;
}

export interface RemoveOptions {
  force?: boolean;
  inUse: (imageId: string) => Promise<boolean>;
}

export interface PruneResult {
  deleted: string[];
  untagged: string[];
  /** Images prune leaves although unused: the built-in busybox (it needs no registry, and `run busybox` expects it). */
  kept: string[];
  /** Bytes of blobs deleted (compressed layers, configs, manifests). */
  spaceReclaimed: number;
}

export const BUILTIN_NAME = 'busybox:latest';

/** Told, for each image an archive held, the names the archive gave it (docker load prints those, not every name the image has). */
export type NamedBy = (imageId: string, names: string[]) => void;

/**
 * ImageService: the local images the engine runs containers from.
 *
 *   importPath  archive → verified blobs in the content store → layers unpacked
 *               (so a bad layer fails the import) → image and tag documents
 *   resolve     name, id or id prefix → Image
 *   layerDirs   Image → unpacked layer dirs, bottom first, for overlay lowerdirs
 *   remove      untag, or delete the image with the blobs and layers no other image uses
 *   registry    pull and push (registry/), whose blobs are pinned until recorded
 *   tag, prune, saveArchive, load
 *
 * Everything lives under `<root>/image/`: blobs/, layers/, tmp/. Call
 * `cleanupTmp()` once at daemon start to clear what a crash left in tmp/.
 */
export class ImageService {
  readonly content: ContentStore;
  readonly layers: LayerStore;
  /** Digests that work in progress needs: never garbage-collected while held. */
  readonly pins = new Pins();
  readonly registry: RegistryService;
  readonly platform: Platform;
  private readonly records: ImageRecords;
  private readonly lock = new RwLock();
  /** Images a build is working on: resolvable by id (for its RUN containers) but not recorded. */
  private readonly transient = new Map<string, { image: Image; holds: number }>();
  /** The built-in busybox's OCI layout (ensureBuiltin), imported again when `busybox` is asked for and gone. */
  private builtinLayout?: string;
  private readonly events?: EventSink;

  constructor(
    root: string,
    private readonly store: Store,
    opts: ImageServiceOptions = {},
  ) {
    const imageRoot = join(root, 'image');
    this.content = new ContentStore(imageRoot);
    this.layers = new LayerStore(this.content, imageRoot, opts.maxLayerBytes ?? DEFAULT_MAX_LAYER_BYTES);
    this.records = new ImageRecords(store);
    this.platform = opts.platform ?? { os: 'linux', architecture: hostArchitecture() };
    this.registry = new RegistryService(this, root, opts.insecureRegistries, opts.pushChunkBytes);
    this.events = opts.events;
  }

  private emit(action: string, id: string, name: string): void {
    this.events?.publish('image', action, id, { name });
  }

  /** Import an OCI layout or an archive on the daemon's host; `event` names the event each image gets (null: none, for the built-in). */
  async importPath(path: string, name?: string, label?: string, event: 'import' | 'load' | null = 'import', named?: NamedBy): Promise<Image[]> {
    const images = await this.importNow(path, name, label, named);
    if (event) for (const i of images) this.emit(event, i.id, i.tags[0] ?? i.id);
    return images;
  }

  private importNow(path: string, name?: string, label?: string, named?: NamedBy): Promise<Image[]> {
    return this.lock.exclusive(async () => {
      const created = new Set<string>();
      let found: ArchiveImage[] = [];
      try {
        found = await importArchive(path, this.content, { name, platform: this.platform, created, label });
        for (const { image } of found) await this.unpackAll(image);
        for (const { image, tags } of found) await this.records.save(image, tags);
        for (const { image, tags } of found) named?.(image.id, tags);
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
    const held = this.transient.get(ref)?.image;
    if (held) return held;
    try {
      return (await resolveRef(this.records, ref)).image;
    } catch (e) {
      if (!isHullError(e, 'not_found') || !this.isBuiltinName(ref) || !this.builtinLayout) throw e;
      // The built-in busybox was removed (rmi): it comes back from the layout on the daemon's disk, not from a registry.
      await this.ensureBuiltin(this.builtinLayout);
      return (await resolveRef(this.records, ref)).image;
    }
  }

  private isBuiltinName(ref: string): boolean {
    try {
      return normalizeTag(ref) === BUILTIN_NAME;
    } catch {
      return false;
    }
  }

  /** A Builder for `hull build`, whose RUN steps run in `containers`. */
  builder(containers: BuildContainers): Builder {
    return new Builder(this, this.store, containers);
  }

  /**
   * Let `resolve(image.id)` find an image a build has not recorded (the state
   * after a step, which its next RUN container starts from), with its blobs
   * and layers pinned, until the returned function is called.
   */
  holdTransient(image: Image): () => void {
    const held = this.transient.get(image.id) ?? { image, holds: 0 };
    held.holds++;
    this.transient.set(image.id, held);
    const unpin = this.pins.hold([...image.layers.map((l) => l.digest), ...image.diffIds]);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--held.holds === 0) this.transient.delete(image.id);
      unpin();
    };
  }

  remove(ref: string, opts: RemoveOptions): Promise<{ untagged: string[]; deleted: string[] }> {
    return this.lock.exclusive(async () => {
      const { image, tag } = await resolveRef(this.records, ref);
      // A name on an image with other names only loses that name, as `docker rmi` does.
      if (tag && image.tags.length > 1) {
        await this.records.untag([tag]);
        this.emit('untag', image.id, tag);
        return { untagged: [tag], deleted: [] };
      }
      if (!tag && image.tags.length > 1 && !opts.force) {
        throw conflict(`image ${shortId(image.id.slice(7))} has several names (${image.tags.join(', ')}): remove them by name, or force`);
      }
      if (await opts.inUse(image.id)) {
        if (!opts.force) throw conflict(`image "${ref}" is in use by a container: remove the container first, or force`);
        // Forced while in use: drop the names but keep the image, whose layers the container still mounts.
        await this.records.untag(image.tags);
        for (const t of image.tags) this.emit('untag', image.id, t);
        return { untagged: image.tags, deleted: [] };
      }
      const untagged = await this.deleteImage(image);
      const gone = await this.collectLayers(image.diffIds);
      await this.collectBlobs([image.manifestDigest, image.id, ...image.layers.map((l) => l.digest)]);
      return { untagged, deleted: [image.id, ...gone] };
    });
  }

  layerDirs(image: Image): Promise<string[]> {
    return this.lock.shared(() => this.unpackAll(image));
  }

  /**
   * Record an image whose blobs a pull put in the store (its layers unpacked
   * already, or now), pointing `tags` at it and noting `repoDigest`.
   */
  commitPulled(manifestDigest: string, tags: string[], repoDigest?: string): Promise<Image> {
    return this.lock.exclusive(async () => {
      const image = await imageFromManifest(this.content, manifestDigest);
      await this.unpackAll(image);
      await this.records.save(image, tags);
      if (repoDigest) await this.records.addRepoDigest(image.id, repoDigest);
      // docker's pull event: the name pulled, and its repository.
      const name = tags[0] ?? repoDigest ?? image.id;
      this.emit('pull', name, name.replace(/[:@][^:/@]*$/, ''));
      return (await this.records.get(image.id))!;
    });
  }

  /** After a failed pull (its pins released): remove the blobs and layers it added that nothing uses. */
  discard(blobs: string[], diffIds: string[]): Promise<void> {
    return this.lock.exclusive(async () => {
      await this.collectLayers(diffIds);
      await this.collectBlobs(blobs);
    });
  }

  /** After a push: the digest the registry knows the image by; `pushedAs` (the name pushed) gets docker's push event. */
  async addRepoDigest(imageId: string, repoDigest: string, pushedAs?: string): Promise<void> {
    await this.lock.exclusive(() => this.records.addRepoDigest(imageId, repoDigest));
    if (pushedAs) this.emit('push', pushedAs, pushedAs.replace(/:[^:/]*$/, ''));
  }

  /** Give the image `ref` names another name (moving it off any other image). */
  tag(ref: string, name: string): Promise<string> {
    return this.lock.exclusive(async () => {
      const target = normalizeTag(name);
      const { image } = await resolveRef(this.records, ref);
      await this.records.save(image, [target]);
      this.emit('tag', image.id, target);
      return target;
    });
  }

  /**
   * Delete images without a name (or, with `all`, every image), except those
   * a container uses and the built-in busybox (named busybox:latest), which
   * `kept` reports.
   */
  prune(opts: { all: boolean; inUse: (imageId: string) => boolean }): Promise<PruneResult> {
    return this.lock.exclusive(async () => {
      const unused = (await this.records.list()).filter((i) => (opts.all || i.tags.length === 0) && !opts.inUse(i.id));
      const builtin = (i: Image) => i.tags.includes(BUILTIN_NAME);
      const victims = unused.filter((i) => !builtin(i));
      const untagged: string[] = [];
      for (const i of victims) untagged.push(...(await this.deleteImage(i)));
      const gone = await this.collectLayers(victims.flatMap((i) => i.diffIds));
      const spaceReclaimed = await this.collectBlobs(victims.flatMap((i) => [i.manifestDigest, i.id, ...i.layers.map((l) => l.digest)]));
      return { deleted: [...victims.map((i) => i.id), ...gone], untagged, kept: unused.filter(builtin).map(() => BUILTIN_NAME), spaceReclaimed };
    });
  }

  /** Forget an image's record and names, with docker's untag and delete events. Caller holds the lock. */
  private async deleteImage(image: Image): Promise<string[]> {
    const untagged = await this.records.delete(image.id);
    for (const t of untagged) this.emit('untag', image.id, t);
    this.emit('delete', image.id, image.id);
    return untagged;
  }

  /**
   * `builder prune`: forget every cached build step; the blobs and unpacked
   * layers only the cache kept (steps of stages no image holds, images
   * removed since) go. Blobs a build in progress holds are pinned and stay.
   */
  pruneBuildCache(): Promise<{ steps: number; layers: number; spaceReclaimed: number }> {
    return this.lock.exclusive(async () => {
      const docs = await this.store.list<{ key: string; state: BuildState }>('buildcache');
      if (docs.length) await this.store.batch(docs.map((d) => ({ op: 'delete' as const, kind: 'buildcache' as const, id: d.key })));
      // Only layers still on disk (an rmi may have taken them already); their bytes count: most of what a build cache holds.
      const gone: string[] = [];
      for (const d of await this.unusedLayers(docs.flatMap((x) => x.state.config.rootfs.diff_ids))) if (await this.layers.has(d)) gone.push(d);
      let spaceReclaimed = 0;
      for (const d of gone) spaceReclaimed += await this.layerBytes(d);
      for (const d of gone) await this.layers.delete(d);
      spaceReclaimed += await this.collectBlobs(docs.flatMap((d) => d.state.layers.map((l) => l.digest)));
      return { steps: docs.length, layers: gone.length, spaceReclaimed };
    });
  }

  /** A tar of the images `refs` name, in docker-save or OCI layout form; their blobs stay pinned until it has been read. */
  async saveArchive(refs: string[], format: SaveFormat): Promise<Readable> {
    const entries: SaveEntry[] = [];
    for (const ref of refs) {
      const { image, tag } = await resolveRef(this.records, ref);
      const seen = entries.find((e) => e.image.id === image.id);
      if (seen) seen.names.push(...(tag && !seen.names.includes(tag) ? [tag] : []));
      else entries.push({ image, names: tag ? [tag] : [] });
    }
    const release = this.pins.hold(entries.flatMap(({ image: i }) => [i.manifestDigest, i.id, ...i.layers.map((l) => l.digest)]));
    const out = saveArchive(this.content, entries, format);
    out.once('close', release);
    return out;
  }

  /** Load images from a tar stream (docker save or OCI layout), as importPath does from a file; `named` hears the names the archive gave each. */
  async load(tarStream: NodeJS.ReadableStream, named?: NamedBy): Promise<Image[]> {
    await mkdir(this.content.tmpDir, { recursive: true });
    const spool = join(this.content.tmpDir, `load-${randomBytes(8).toString('hex')}.tar`);
    try {
      await pipeline(tarStream, createWriteStream(spool, { mode: 0o600 }));
      // Messages name what the client sent, not the spool file.
      return await this.importPath(spool, undefined, 'image archive', 'load', named);
    } finally {
      await rm(spool, { force: true });
    }
  }

  /** Import the built-in busybox (from the OCI layout set-up builds) unless it is here; remembered, to come back after an rmi. */
  async ensureBuiltin(layoutDir: string): Promise<void> {
    this.builtinLayout = layoutDir;
    if (await this.records.getTag(BUILTIN_NAME)) return;
    await this.importPath(layoutDir, BUILTIN_NAME, undefined, null);
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
  private async collectBlobs(candidates: string[]): Promise<number> {
    if (candidates.length === 0) return 0;
    const used = new Set<string>();
    for (const i of await this.records.list()) [i.id, i.manifestDigest, ...i.layers.map((l) => l.digest)].forEach((d) => used.add(d));
    let freed = 0;
    for (const d of new Set(candidates)) {
      if (used.has(d) || this.pins.has(d)) continue;
      freed += (await this.content.statBlob(d))?.size ?? 0;
      await this.content.deleteBlob(d);
    }
    return freed;
  }

  /** Delete the given unpacked layers unless a stored image still uses them; returns those deleted. */
  private async collectLayers(diffIds: string[]): Promise<string[]> {
    const gone = await this.unusedLayers(diffIds);
    for (const d of gone) await this.layers.delete(d);
    return gone;
  }

  private async unusedLayers(diffIds: string[]): Promise<string[]> {
    const used = new Set((await this.records.list()).flatMap((i) => i.diffIds));
    return [...new Set(diffIds)].filter((d) => !used.has(d) && !this.pins.has(d));
  }

  /** The disk an unpacked layer takes (0 if it is not unpacked). */
  private async layerBytes(diffId: string): Promise<number> {
    if (!(await this.layers.has(diffId))) return 0;
    const r = await run(['du', '-s', '-B1', '-x', this.layers.diffDir(diffId)], { timeoutMs: 60_000, allowFailure: true });
    return Number(r.stdout.split(/\s/)[0]) || 0;
  }
}
