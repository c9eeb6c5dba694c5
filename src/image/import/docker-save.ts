import { invalid } from '../../core/errors.js';
import type { ContentStore } from '../content/content-store.js';
import { detectCompression } from '../unpack/decompress.js';
import { dockerManifestSchema, imageConfigSchema, MediaType, type OciManifest, parseDoc } from '../oci-types.js';
import type { Found } from './oci-layout.js';
import type { ImportSource } from './source.js';

/**
 * Import a `docker save` archive: manifest.json lists, per image, a config
 * file, repo tags and layer tars by path. docker save has no OCI manifest, so
 * one is written for each image (uncompressed layers keep their sha256 as
 * digest), which gives every image the same shape in the store however it
 * arrived, and a manifest ready to push.
 */
export async function importDockerSave(src: ImportSource, content: ContentStore): Promise<Found[]> {
  const entries = parseDoc(dockerManifestSchema, (await src.readFile('manifest.json'))!, `${src.what}: manifest.json`);
  if (entries.length === 0) throw invalid(`${src.what}: manifest.json lists no images`);
  const found: Found[] = [];
  for (const entry of entries) {
    const config = await src.ingest(entry.Config);
    parseDoc(imageConfigSchema, await content.readBlob(config.digest), `${src.what}: ${entry.Config}`);
    const layers: OciManifest['layers'] = [];
    for (const path of entry.Layers) {
      const blob = await src.ingest(path);
      const gz = (await detectCompression(content.blobPath(blob.digest), `${src.what}: ${path}`)) === 'gzip';
      layers.push({ mediaType: gz ? MediaType.ociLayerGzip : MediaType.ociLayer, digest: blob.digest, size: blob.size });
    }
    const manifest: OciManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
      layers,
    };
    const written = await content.writeBlob(Buffer.from(JSON.stringify(manifest)));
    if (written.created) src.created.add(written.digest);
    found.push({ manifestDigest: written.digest, names: entry.RepoTags ?? [] });
  }
  return found;
}
