import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { HullError } from '../../core/errors.js';
import type { ContentStore } from '../content/content-store.js';
import type { RegistryClient, RegistryResponse } from './client.js';

/** Blobs up to this size go up in one PUT; larger ones in PATCH chunks of `chunkBytes`, then a closing PUT. */
export const MONOLITHIC_MAX = 8 * 1024 * 1024;
export const DEFAULT_CHUNK = 64 * 1024 * 1024;

export interface BlobPush {
  client: RegistryClient;
  repo: string;
  digest: string;
  size: number;
  scopes: string[];
  /** Repositories on the same registry that may hold the blob already (tried as cross-repo mounts). */
  mountFrom: string[];
  onBytes?: (done: number) => void;
  chunkBytes?: number;
  signal?: AbortSignal;
}

export type PushOutcome = { kind: 'exists' } | { kind: 'mounted'; from: string } | { kind: 'uploaded' };

/**
 * Push one blob as the distribution spec lays out: HEAD to see if the
 * repository has it; a cross-repository mount (`POST ...?mount=&from=`) from
 * a repository that should; else an upload session (`POST .../uploads/`)
 * completed with one PUT (monolithic) or PATCH chunks (`Content-Range`) then
 * a PUT with `?digest=`. The bytes come from the content store.
 */
export async function pushBlob(content: ContentStore, p: BlobPush): Promise<PushOutcome> {
  const { client, repo, digest } = p;
  const head = await client.send({ method: 'HEAD', path: `/v2/${repo}/blobs/${digest}`, scopes: p.scopes, follow: true, signal: p.signal });
  await head.body.dump();
  if (head.status === 200) return { kind: 'exists' };
  if (head.status !== 404) await client.check(head, `blob ${digest}`, [404]);

  let location: URL | undefined;
  for (const from of p.mountFrom) {
    const res = await client.send({ method: 'POST', path: `/v2/${repo}/blobs/uploads/?mount=${digest}&from=${encodeURIComponent(from)}`, scopes: p.scopes, signal: p.signal });
    if (res.status === 201) {
      await res.body.dump();
      return { kind: 'mounted', from };
    }
    await client.check(res, `mount of ${digest} from ${from}`, [202]);
    // A refused mount still opened an upload session: use it.
    location = await locationOf(res, client);
    break;
  }
  if (!location) {
    const res = await client.send({ method: 'POST', path: `/v2/${repo}/blobs/uploads/`, scopes: p.scopes, signal: p.signal });
    await client.check(res, `upload of ${digest}`, [202]);
    location = await locationOf(res, client);
  }
  if (p.size <= MONOLITHIC_MAX) await putBlob(content, p, location, true);
  else await putBlob(content, p, await patchChunks(content, p, location), false);
  return { kind: 'uploaded' };
}

async function patchChunks(content: ContentStore, p: BlobPush, start: URL): Promise<URL> {
  const chunk = p.chunkBytes ?? DEFAULT_CHUNK;
  let location = start;
  for (let off = 0; off < p.size; off += chunk) {
    const end = Math.min(off + chunk, p.size) - 1;
    const res = await p.client.send({
      method: 'PATCH',
      path: location.href,
      scopes: p.scopes,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - off + 1), 'content-range': `${off}-${end}` },
      body: () => counted(content.blobPath(p.digest), off, end, p.onBytes),
      signal: p.signal,
    });
    await p.client.check(res, `upload of ${p.digest} (bytes ${off}-${end})`, [202, 204]);
    location = await locationOf(res, p.client, location);
  }
  return location;
}

async function putBlob(content: ContentStore, p: BlobPush, location: URL, withBody: boolean): Promise<void> {
  const url = new URL(location);
  url.searchParams.set('digest', p.digest);
  const res = await p.client.send({
    method: 'PUT',
    path: url.href,
    scopes: p.scopes,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(withBody ? p.size : 0) },
    body: withBody ? () => counted(content.blobPath(p.digest), 0, p.size - 1, p.onBytes) : Buffer.alloc(0),
    signal: p.signal,
  });
  await p.client.check(res, `upload of ${p.digest}`, [201, 204]);
  await res.body.dump();
}

/** Bytes [start, end] of a file, reporting the running total (offset included) as they go out. */
function counted(path: string, start: number, end: number, onBytes?: (n: number) => void): Transform {
  let sent = start;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      onBytes?.(sent);
      cb(null, chunk);
    },
  });
  if (end < start) {
    t.end();
    return t;
  }
  return createReadStream(path, { start, end }).on('error', (e) => t.destroy(e)).pipe(t);
}

async function locationOf(res: RegistryResponse, client: RegistryClient, fallback?: URL): Promise<URL> {
  await res.body.dump();
  const loc = res.headers.location;
  if (typeof loc !== 'string') {
    if (fallback) return fallback;
    throw new HullError('invalid', `registry ${client.host}: an upload answer had no Location header`);
  }
  return new URL(loc, res.url);
}
