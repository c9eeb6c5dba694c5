import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { digestHex, sha256 } from './content/digest.js';
import { type Descriptor, MediaType, type OciIndex, type OciManifest, REF_NAME } from './oci-types.js';

export interface LayoutLayer {
  /** The layer blob as stored (gzip or plain tar). */
  blob: Buffer;
  mediaType: string;
}

export interface LayoutSpec {
  /** The image config document; its rootfs.diff_ids must match the layers. */
  config: object;
  layers: LayoutLayer[];
  /** The `org.opencontainers.image.ref.name` annotation, e.g. `latest`. */
  refName?: string;
}

/**
 * Write a one-image OCI image layout. Blobs go in first and index.json last,
 * each by rename, so a reader never sees an index naming a missing blob. If
 * the directory already holds exactly this image, nothing is written, which
 * makes building the same image twice free and leaves mtimes alone.
 */
export async function writeOciLayout(dir: string, spec: LayoutSpec): Promise<{ manifestDigest: string; changed: boolean }> {
  const blobs = new Map<string, Buffer>();
  const put = (data: Buffer, mediaType: string): Descriptor => {
    const digest = sha256(data);
    blobs.set(digest, data);
    return { mediaType, digest, size: data.length };
  };
  const manifest: OciManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: put(Buffer.from(JSON.stringify(spec.config)), MediaType.ociConfig),
    layers: spec.layers.map((l) => put(l.blob, l.mediaType)),
  };
  const desc = put(Buffer.from(JSON.stringify(manifest)), MediaType.ociManifest);
  if (spec.refName) desc.annotations = { [REF_NAME]: spec.refName };
  const index: OciIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [desc] };
  const indexBytes = Buffer.from(JSON.stringify(index));
  if (await isComplete(dir, indexBytes, blobs)) return { manifestDigest: desc.digest, changed: false };

  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  for (const [digest, data] of blobs) await atomicWrite(join(blobDir, digestHex(digest)), data);
  await atomicWrite(join(dir, 'oci-layout'), Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
  await atomicWrite(join(dir, 'index.json'), indexBytes);
  await pruneBlobs(blobDir, blobs);
  return { manifestDigest: desc.digest, changed: true };
}

/**
 * Write a layout for an image made of plain layer tars, bottom first: the
 * diff_ids are computed here, and each layer is stored gzip-compressed unless
 * `gzip` is false. `config` adds to the image config (Cmd, Env, ...).
 */
export async function writeTarsLayout(
  dir: string,
  tars: Buffer[],
  opts: { gzip?: boolean; refName?: string; config?: object; architecture?: string } = {},
): Promise<{ manifestDigest: string; changed: boolean }> {
  const gzip = opts.gzip ?? true;
  const config = {
    architecture: opts.architecture ?? 'amd64',
    os: 'linux',
    config: opts.config ?? {},
    rootfs: { type: 'layers', diff_ids: tars.map((t) => sha256(t)) },
  };
  const layers = tars.map((t) => (gzip ? { blob: gzipSync(t), mediaType: MediaType.ociLayerGzip } : { blob: t, mediaType: MediaType.ociLayer }));
  return writeOciLayout(dir, { config, layers, refName: opts.refName });
}

async function isComplete(dir: string, indexBytes: Buffer, blobs: Map<string, Buffer>): Promise<boolean> {
  const have = await readFile(join(dir, 'index.json')).catch(() => undefined);
  if (!have?.equals(indexBytes)) return false;
  for (const [digest, data] of blobs) {
    const st = await stat(join(dir, 'blobs', 'sha256', digestHex(digest))).catch(() => undefined);
    if (st?.size !== data.length) return false;
  }
  return true;
}

async function atomicWrite(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, data, { mode: 0o644 });
  await rename(tmp, path);
}

/** Blobs of an image built here before (an older busybox, say) are no longer named by index.json. */
async function pruneBlobs(blobDir: string, keep: Map<string, Buffer>): Promise<void> {
  for (const name of await readdir(blobDir)) {
    if (!keep.has(`sha256:${name}`)) await rm(join(blobDir, name), { force: true });
  }
}
