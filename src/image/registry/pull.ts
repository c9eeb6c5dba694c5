import { HullError, invalid } from '../../core/errors.js';
import type { ContentStore } from '../content/content-store.js';
import { readManifest } from '../image-from-manifest.js';
import { imageConfigSchema, type OciImageConfig, parseDoc, type Platform } from '../oci-types.js';
import type { Reference } from '../reference.js';
import type { LayerRef } from '../unpack/layer-store.js';
import { downloadBlob } from './blob-download.js';
import type { RegistryClient } from './client.js';
import { platformString, resolveManifest } from './manifests.js';
import { byteReporter, mapLimit, type OnProgress, shortDigest } from './progress.js';
import { SharedDownloads } from './shared-downloads.js';

/** Layers downloaded at once per pull, as docker's default. */
export const PULL_PARALLEL = 3;
const MAX_CONFIG = 16 * 1024 * 1024;

export interface PullJob {
  client: RegistryClient;
  ref: Reference;
  platform: Platform;
  /** A platform the user asked for: a single-platform image for another one is refused. */
  platformExplicit: boolean;
  onProgress: OnProgress;
  /** Called before each blob is fetched or used, so nothing collects it while this pull needs it. */
  pin: (digests: string[]) => void;
  /** Blobs this pull added to the content store (for clean-up if it fails). */
  created: Set<string>;
  /** Called as each layer's blob is complete (the caller unpacks it while the others download). */
  onLayer?: (layer: LayerRef) => Promise<void>;
  signal?: AbortSignal;
}

export interface Pulled {
  /** The image manifest's digest (the platform's, for an index). */
  manifestDigest: string;
  /** The digest the reference resolved to: the index's for a multi-platform image. */
  topDigest: string;
  layers: LayerRef[];
}

/**
 * Puller: a reference → its manifest (through an index to the platform's)
 * → config → layers, every blob verified into the content store. Layers
 * already in the store cost nothing; the others are fetched PULL_PARALLEL at
 * a time, and a layer another pull in this daemon is already fetching is
 * waited for, not fetched twice. Records nothing: the caller turns the
 * result into an image once everything is in.
 */
export class Puller {
  private readonly shared = new SharedDownloads();

  constructor(private readonly content: ContentStore) {}

  async pull(job: PullJob): Promise<Pulled> {
    const { client, ref, onProgress } = job;
    const repo = ref.path;
    onProgress({ type: 'status', message: `Pulling from ${repo}` });
    const { top, manifest } = await resolveManifest(client, repo, ref.digest ?? ref.tag ?? 'latest', job.platform, job.signal);
    job.pin([top.digest, manifest.digest]);
    await this.store(job, manifest.bytes, manifest.digest);
    const m = await readManifest(this.content, manifest.digest);
    job.pin([m.config.digest, ...m.layers.map((l) => l.digest)]);
    // The config is read whole into memory: refuse a descriptor that claims a huge one before fetching it.
    if (m.config.size > MAX_CONFIG) throw invalid(`${client.host}/${repo}: the image config is ${m.config.size} bytes, over the ${MAX_CONFIG} byte limit`);

    await this.fetch(job, m.config, false);
    const config = parseDoc(imageConfigSchema, await this.content.readBlob(m.config.digest), `image config ${m.config.digest}`);
    checkConfig(config, m.layers.length, job, `${client.host}/${repo}`);
    const layers = m.layers.map((l, i) => ({ digest: l.digest, diffId: config.rootfs.diff_ids[i] }));

    const unpacks: Promise<void>[] = [];
    m.layers.forEach((l) => onProgress({ type: 'layer', id: shortDigest(l.digest), status: 'Waiting', total: l.size }));
    try {
      await mapLimit(m.layers, PULL_PARALLEL, async (l, i) => {
        const fresh = await this.fetch(job, l);
        onProgress({ type: 'layer', id: shortDigest(l.digest), status: fresh ? 'Download complete' : 'Already exists', total: l.size });
        if (job.onLayer) unpacks.push(job.onLayer(layers[i]));
      });
    } finally {
      // Nothing may still be writing when this returns or throws.
      const settled = await Promise.allSettled(unpacks);
      const failed = settled.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    return { manifestDigest: manifest.digest, topDigest: top.digest, layers };
  }

  /** Fetch a blob unless the store has it; true when it had to be downloaded. */
  private async fetch(job: PullJob, desc: { digest: string; size: number }, report = true): Promise<boolean> {
    if (await this.content.hasBlob(desc.digest)) return false;
    // Like docker, only layers are shown.
    const onBytes = report ? byteReporter(job.onProgress, desc.digest, 'Downloading', desc.size) : () => undefined;
    const start = (onBytes: (n: number) => void, signal: AbortSignal) =>
      downloadBlob(this.content, { client: job.client, repo: job.ref.path, desc, onBytes, signal });
    const created = await this.shared.run(desc.digest, start, onBytes, job.signal);
    if (created) job.created.add(desc.digest);
    return true;
  }

  private async store(job: PullJob, bytes: Buffer, digest: string): Promise<void> {
    const w = await this.content.writeBlob(bytes, digest, bytes.length);
    if (w.created) job.created.add(digest);
  }
}

/** Refuse a config that cannot describe this manifest's layers, before fetching them. */
function checkConfig(config: OciImageConfig, layerCount: number, job: PullJob, name: string): void {
  if (config.rootfs.diff_ids.length !== layerCount) {
    throw invalid(`${name}: the image config lists ${config.rootfs.diff_ids.length} layers but the manifest has ${layerCount}`);
  }
  const got = { os: config.os, architecture: config.architecture };
  if (job.platformExplicit && (got.os !== job.platform.os || got.architecture !== job.platform.architecture)) {
    throw new HullError('not_found', `${name} is an image for ${platformString(got)}, not ${platformString(job.platform)}`);
  }
}
