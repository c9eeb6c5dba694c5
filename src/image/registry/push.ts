import { HullError } from '../../core/errors.js';
import type { ContentStore } from '../content/content-store.js';
import { isDigest } from '../content/digest.js';
import { readManifest } from '../image-from-manifest.js';
import { MediaType } from '../oci-types.js';
import type { Reference } from '../reference.js';
import { pushBlob } from './blob-upload.js';
import type { RegistryClient } from './client.js';
import { byteReporter, mapLimit, type OnProgress, shortDigest } from './progress.js';

export const PUSH_PARALLEL = 3;
const MAX_SCOPES = 8;

export interface PushJob {
  client: RegistryClient;
  /** Where to: the registry's repository and tag. */
  ref: Reference;
  manifestDigest: string;
  /** Per blob digest, other repositories on the same registry that should have it (mount sources). */
  mountFrom: Map<string, string[]>;
  onProgress: OnProgress;
  chunkBytes?: number;
  signal?: AbortSignal;
}

/**
 * Push an image: its layers (PUSH_PARALLEL at a time) and config, each
 * skipped when the repository has it or mounted when another repository on
 * the registry does, then the manifest, byte for byte as stored, so the
 * image keeps its digest. Returns the manifest's digest and size.
 */
export async function pushImage(content: ContentStore, job: PushJob): Promise<{ digest: string; size: number }> {
  const { client, ref, onProgress } = job;
  const repo = ref.path;
  const tag = ref.tag ?? 'latest';
  // One set of scopes for the whole push, so one token serves every request.
  const sources = [...new Set([...job.mountFrom.values()].flat())].slice(0, MAX_SCOPES);
  const scopes = [`repository:${repo}:pull,push`, ...sources.map((r) => `repository:${r}:pull`)];
  onProgress({ type: 'status', message: `The push refers to repository [${client.host}/${repo}]` });
  const bytes = await content.readBlob(job.manifestDigest);
  const manifest = await readManifest(content, job.manifestDigest);
  const blobs = [...manifest.layers, manifest.config];
  // Like docker, only layers are shown.
  const layerIds = new Set(manifest.layers.map((l) => shortDigest(l.digest)));
  const on: OnProgress = (e) => (e.type !== 'layer' || layerIds.has(e.id) ? onProgress(e) : undefined);
  layerIds.forEach((id) => on({ type: 'layer', id, status: 'Preparing' }));
  await mapLimit(blobs, PUSH_PARALLEL, async (b) => {
    const have = await content.statBlob(b.digest);
    if (!have) throw new HullError('not_found', `blob ${b.digest} of ${job.manifestDigest} is not in the store`);
    const onBytes = byteReporter(on, b.digest, 'Pushing', b.size);
    const out = await pushBlob(content, { client, repo, digest: b.digest, size: b.size, scopes, mountFrom: (job.mountFrom.get(b.digest) ?? []).filter((r) => sources.includes(r)), onBytes, chunkBytes: job.chunkBytes, signal: job.signal });
    const id = shortDigest(b.digest);
    if (out.kind === 'exists') on({ type: 'layer', id, status: 'Layer already exists' });
    else if (out.kind === 'mounted') on({ type: 'layer', id, status: 'Mounted', detail: `from ${out.from}` });
    else on({ type: 'layer', id, status: 'Pushed', current: b.size, total: b.size });
  });

  const mediaType = manifest.mediaType ?? (manifest.config.mediaType === MediaType.ociConfig ? MediaType.ociManifest : MediaType.dockerManifest);
  const res = await client.send({
    method: 'PUT',
    path: `/v2/${repo}/manifests/${tag}`,
    scopes,
    headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
    body: bytes,
    signal: job.signal,
  });
  await client.check(res, `manifest ${repo}:${tag}`, [201, 200, 202]);
  await res.body.dump();
  const said = String(res.headers['docker-content-digest'] ?? '');
  if (isDigest(said) && said !== job.manifestDigest) {
    throw new HullError('invalid', `registry ${client.host}: stored manifest ${repo}:${tag} as ${said}, not ${job.manifestDigest}`);
  }
  return { digest: job.manifestDigest, size: bytes.length };
}
