import { invalid } from '../../core/errors.js';
import type { ContentStore } from '../content/content-store.js';
import { readManifest } from '../image-from-manifest.js';
import {
  CONTAINERD_NAME,
  type Descriptor,
  INDEX_TYPES,
  indexSchema,
  layoutSchema,
  MANIFEST_TYPES,
  parseDoc,
  type Platform,
  REF_NAME,
} from '../oci-types.js';
import { type ImportSource, layoutBlobPath } from './source.js';

/** One image found in an archive, its blobs already in the content store. */
export interface Found {
  manifestDigest: string;
  /** Full names the archive gives it (`busybox:latest`, `docker.io/x/y:1`). */
  names: string[];
  /** A bare tag from an OCI `ref.name` annotation, to pair with a repository the caller names. */
  tag?: string;
}

const MAX_DEPTH = 4;

/**
 * Import an OCI image layout: index.json names manifests (or nested indexes
 * for multi-platform images, from which the one for `platform` is taken).
 * Each manifest, its config and its layers are ingested, verified against
 * their descriptors.
 */
export async function importOciLayout(src: ImportSource, content: ContentStore, platform: Platform): Promise<Found[]> {
  const layout = parseDoc(layoutSchema, (await src.readFile('oci-layout'))!, `${src.what}: oci-layout`);
  if (!layout.imageLayoutVersion.startsWith('1.')) throw invalid(`${src.what}: unsupported image layout version ${layout.imageLayoutVersion}`);
  const indexBytes = await src.readFile('index.json');
  if (!indexBytes) throw invalid(`${src.what}: has oci-layout but no index.json`);
  const index = parseDoc(indexSchema, indexBytes, `${src.what}: index.json`);
  const found: Found[] = [];
  for (const desc of index.manifests) {
    const manifestDigest = await pickManifest(src, content, desc, platform, 0);
    if (manifestDigest) found.push({ manifestDigest, ...namesOf(desc) });
  }
  if (found.length === 0) throw invalid(`${src.what}: has no image for ${platform.os}/${platform.architecture}`);
  return found;
}

/** Follow a descriptor to a manifest for `platform`, ingesting it and its blobs; undefined if it has none. */
async function pickManifest(src: ImportSource, content: ContentStore, desc: Descriptor, platform: Platform, depth: number): Promise<string | undefined> {
  if (desc.platform && !samePlatform(desc.platform, platform)) return undefined;
  if (INDEX_TYPES.includes(desc.mediaType)) {
    if (depth >= MAX_DEPTH) throw invalid(`${src.what}: indexes nested more than ${MAX_DEPTH} deep`);
    await src.ingest(layoutBlobPath(desc.digest), desc);
    const nested = parseDoc(indexSchema, await content.readBlob(desc.digest), `${src.what}: index ${desc.digest}`);
    for (const d of nested.manifests) {
      // Inside an index, an entry with no platform is not an image to run (attestations and the like).
      if (!d.platform) continue;
      const m = await pickManifest(src, content, d, platform, depth + 1);
      if (m) return m;
    }
    return undefined;
  }
  if (!MANIFEST_TYPES.includes(desc.mediaType)) return undefined; // an artifact, not an image
  await ingestManifest(src, content, desc);
  return desc.digest;
}

async function ingestManifest(src: ImportSource, content: ContentStore, desc: Descriptor): Promise<void> {
  await src.ingest(layoutBlobPath(desc.digest), desc);
  const manifest = await readManifest(content, desc.digest);
  await src.ingest(layoutBlobPath(manifest.config.digest), manifest.config);
  for (const layer of manifest.layers) await src.ingest(layoutBlobPath(layer.digest), layer);
}

function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (!b.variant || !a.variant || a.variant === b.variant);
}

/**
 * `ref.name` is a bare tag in most layouts (umoci, docker ≥ 25) and a full
 * name in some (skopeo with a name); containerd's annotation is always full.
 */
function namesOf(desc: Descriptor): { names: string[]; tag?: string } {
  const names: string[] = [];
  const full = desc.annotations?.[CONTAINERD_NAME];
  if (full) names.push(full);
  const ref = desc.annotations?.[REF_NAME];
  if (ref && (ref.includes(':') || ref.includes('/'))) names.push(ref);
  return { names, tag: ref && !names.includes(ref) ? ref : undefined };
}
