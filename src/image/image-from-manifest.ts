import type { Image, ImageConfig } from '../core/image.js';
import { invalid } from '../core/errors.js';
import type { ContentStore } from './content/content-store.js';
import { imageConfigSchema, manifestSchema, MANIFEST_TYPES, type OciImageConfig, type OciManifest, parseDoc } from './oci-types.js';

/**
 * Build the Image record for a manifest whose blobs are all in the content
 * store. Importers call this after ingesting; the registry client will too,
 * after a pull, so both produce the same record from the same bytes.
 */
export async function imageFromManifest(content: ContentStore, manifestDigest: string): Promise<Image> {
  const manifest = await readManifest(content, manifestDigest);
  const what = `image config ${manifest.config.digest}`;
  const config = parseDoc(imageConfigSchema, await content.readBlob(manifest.config.digest), what);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw invalid(`${what}: lists ${diffIds.length} diff_ids but manifest ${manifestDigest} has ${manifest.layers.length} layers`);
  }
  for (const l of manifest.layers) {
    if (!(await content.hasBlob(l.digest))) throw invalid(`manifest ${manifestDigest}: layer blob ${l.digest} is missing`);
  }
  return {
    id: manifest.config.digest,
    manifestDigest,
    tags: [],
    diffIds,
    layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
    config: pickConfig(config),
    architecture: config.architecture,
    os: config.os,
    // Compressed size: the uncompressed size is only known once layers are unpacked.
    size: manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
    createdAt: config.created ?? new Date().toISOString(),
  };
}

export async function readManifest(content: ContentStore, digest: string): Promise<OciManifest> {
  const manifest = parseDoc(manifestSchema, await content.readBlob(digest), `manifest ${digest}`);
  if (manifest.mediaType !== undefined && !MANIFEST_TYPES.includes(manifest.mediaType)) {
    throw invalid(`manifest ${digest}: unsupported media type ${manifest.mediaType}`);
  }
  return manifest;
}

/** Keep only the fields Hull acts on, dropping nulls docker writes for empty lists. */
function pickConfig(c: OciImageConfig): ImageConfig {
  const src = c.config ?? {};
  const out: ImageConfig = {};
  if (src.Cmd) out.Cmd = src.Cmd;
  if (src.Entrypoint) out.Entrypoint = src.Entrypoint;
  if (src.Env) out.Env = src.Env;
  if (src.WorkingDir) out.WorkingDir = src.WorkingDir;
  if (src.User) out.User = src.User;
  if (src.ExposedPorts) out.ExposedPorts = src.ExposedPorts;
  if (src.Labels) out.Labels = src.Labels;
  if (src.StopSignal) out.StopSignal = src.StopSignal;
  if (src.Volumes) out.Volumes = src.Volumes;
  if (src.Healthcheck?.Test?.length) out.Healthcheck = { ...src.Healthcheck, Test: src.Healthcheck.Test };
  return out;
}
