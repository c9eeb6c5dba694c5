import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import type { Image } from '../core/image.js';
import type { ContentStore } from './content/content-store.js';
import { digestHex } from './content/digest.js';
import { readManifest } from './image-from-manifest.js';
import { CONTAINERD_NAME, type Descriptor, MediaType, type OciIndex, REF_NAME } from './oci-types.js';
import { parseReference } from './reference.js';
import { decompressor, detectCompression } from './unpack/decompress.js';

export type SaveFormat = 'docker' | 'oci';

export interface SaveEntry {
  image: Image;
  /** `repo:tag` names to record for it (none: saved by id, loads untagged). */
  names: string[];
}

const MTIME = new Date('1970-01-01T00:00:00Z');

/**
 * Write images as a tar stream:
 *   docker: docker save's layout as docker and skopeo's docker-archive write
 *           it: `manifest.json` ([{Config, RepoTags, Layers}]), `repositories`,
 *           the config as `<hex>.json`, each layer as an uncompressed
 *           `<diff_id hex>.tar` (so its digest is its diff_id, as old loaders check);
 *   oci:    an OCI image layout: `oci-layout`, `index.json` (one entry per
 *           name, with docker ≥ 25's annotations: the full name in
 *           io.containerd.image.name, the tag in ...ref.name), `blobs/sha256/*`
 *           as stored, so manifests keep their digests.
 * Each blob is written once however many images share it.
 */
export function saveArchive(content: ContentStore, entries: SaveEntry[], format: SaveFormat): Readable {
  const pack = tar.pack();
  const out = new PassThrough();
  const written = new Set<string>();
  const file = (name: string, data: Buffer | string) =>
    new Promise<void>((resolve, reject) => pack.entry({ name, mode: 0o644, mtime: MTIME }, Buffer.from(data), (e) => (e ? reject(e) : resolve())));
  const fromDisk = async (name: string, path: string) => {
    if (written.has(name)) return;
    written.add(name);
    const { size } = await stat(path);
    await pipeline(createReadStream(path), pack.entry({ name, size, mode: 0o644, mtime: MTIME }) as unknown as NodeJS.WritableStream);
  };
  const ctx: Ctx = { content, file, fromDisk, written };
  const produce = async () => {
    if (format === 'oci') await writeOci(ctx, entries);
    else await writeDocker(ctx, entries);
    pack.finalize();
  };
  pipeline(pack as unknown as Readable, out).catch((e: unknown) => out.destroy(e as Error));
  produce().catch((e: unknown) => {
    pack.destroy(e as Error);
    out.destroy(e as Error);
  });
  return out;
}

interface Ctx {
  content: ContentStore;
  file: (name: string, data: Buffer | string) => Promise<void>;
  fromDisk: (name: string, path: string) => Promise<void>;
  written: Set<string>;
}

async function writeOci(ctx: Ctx, entries: SaveEntry[]): Promise<void> {
  const index: OciIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
  for (const { image, names } of entries) {
    const manifest = await readManifest(ctx.content, image.manifestDigest);
    for (const d of [image.manifestDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
      await ctx.fromDisk(`blobs/sha256/${digestHex(d)}`, ctx.content.blobPath(d));
    }
    const { size } = (await ctx.content.statBlob(image.manifestDigest))!;
    const desc: Descriptor = { mediaType: manifest.mediaType ?? MediaType.ociManifest, digest: image.manifestDigest, size };
    if (names.length === 0) index.manifests.push(desc);
    for (const name of names) {
      const ref = parseReference(name);
      const tag = ref.tag ?? 'latest';
      index.manifests.push({ ...desc, annotations: { [CONTAINERD_NAME]: `${ref.domain}/${ref.path}:${tag}`, [REF_NAME]: tag } });
    }
  }
  await ctx.file('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await ctx.file('index.json', JSON.stringify(index));
}

async function writeDocker(ctx: Ctx, entries: SaveEntry[]): Promise<void> {
  const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { image, names } of entries) {
    const config = `${digestHex(image.id)}.json`;
    await ctx.fromDisk(config, ctx.content.blobPath(image.id));
    const layers: string[] = [];
    for (const [i, l] of image.layers.entries()) {
      const name = `${digestHex(image.diffIds[i])}.tar`;
      await writeLayerTar(ctx, name, l.digest);
      layers.push(name);
    }
    manifest.push({ Config: config, RepoTags: names.length ? names : null, Layers: layers });
    for (const n of names) {
      const colon = n.lastIndexOf(':');
      (repositories[n.slice(0, colon)] ??= {})[n.slice(colon + 1)] = digestHex(image.diffIds[image.diffIds.length - 1] ?? image.id);
    }
  }
  await ctx.file('manifest.json', JSON.stringify(manifest));
  await ctx.file('repositories', JSON.stringify(repositories));
}

/** An uncompressed layer tar: the blob itself, or the blob gunzipped into a temp file (a tar entry needs its size first). */
async function writeLayerTar(ctx: Ctx, name: string, digest: string): Promise<void> {
  if (ctx.written.has(name)) return;
  const blob = ctx.content.blobPath(digest);
  const compression = await detectCompression(blob, `layer ${digest}`);
  if (compression === 'none') return ctx.fromDisk(name, blob);
  await mkdir(ctx.content.tmpDir, { recursive: true });
  const tmp = join(ctx.content.tmpDir, `save-${randomBytes(8).toString('hex')}.tar`);
  try {
    await pipeline(createReadStream(blob), decompressor(compression, `layer ${digest}`), createWriteStream(tmp, { mode: 0o600 }));
    await ctx.fromDisk(name, tmp);
  } finally {
    await rm(tmp, { force: true });
  }
}
