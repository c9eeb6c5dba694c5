import { setTimeout as sleep } from 'node:timers/promises';
import { HullError, isHullError } from '../../core/errors.js';
import type { ContentStore } from '../content/content-store.js';
import type { Descriptor } from '../oci-types.js';
import type { RegistryClient } from './client.js';
import { pullScope } from './manifests.js';

/** Resume a dropped download at most this many times (each after a short back-off). */
const MAX_RESUMES = 5;

export interface BlobFetch {
  client: RegistryClient;
  repo: string;
  desc: Pick<Descriptor, 'digest' | 'size'>;
  onBytes?: (done: number) => void;
  signal?: AbortSignal;
}

/**
 * Download a blob into the content store. The bytes stream straight into
 * `writeBlob`, which hashes them and makes the blob visible only if digest
 * and size match the descriptor, so a registry (or a proxy) that sends the
 * wrong bytes leaves nothing behind. A connection dropped part-way is
 * resumed with `Range: bytes=N-` from the byte it stopped at (a registry
 * that ignores Range and answers 200 has the first N bytes skipped), so the
 * hash runs on over one continuous stream. Returns whether the blob was new.
 */
export async function downloadBlob(content: ContentStore, f: BlobFetch): Promise<boolean> {
  try {
    return (await content.writeBlob(chunks(f), f.desc.digest, f.desc.size)).created;
  } catch (e) {
    if (isHullError(e) && /mismatch|larger than the expected/.test(e.message)) {
      throw new HullError('invalid', `registry ${f.client.host}: blob ${f.desc.digest} of ${f.repo}: ${e.message}: refused, nothing stored`);
    }
    throw e;
  }
}

async function* chunks(f: BlobFetch): AsyncGenerator<Uint8Array> {
  const { client, repo, desc } = f;
  let got = 0;
  for (let resumes = 0; ; resumes++) {
    const headers: Record<string, string> = got > 0 ? { range: `bytes=${got}-` } : {};
    const res = await client.send({ method: 'GET', path: `/v2/${repo}/blobs/${desc.digest}`, scopes: [pullScope(repo)], headers, follow: true, signal: f.signal });
    let skip = 0;
    if (got > 0 && res.status === 206) checkRange(res.headers['content-range'], got, client.host, desc.digest);
    else if (got > 0 && res.status === 200) skip = got;
    else await client.check(res, `blob ${desc.digest}`, [200]);
    let ended = false;
    try {
      for await (const c of res.body as AsyncIterable<Buffer>) {
        let chunk = c;
        if (skip > 0) {
          const drop = Math.min(skip, chunk.length);
          skip -= drop;
          chunk = chunk.subarray(drop);
          if (chunk.length === 0) continue;
        }
        got += chunk.length;
        yield chunk;
        f.onBytes?.(got);
      }
      ended = true;
    } catch (e) {
      if (f.signal?.aborted) throw new HullError('unavailable', `registry ${client.host}: cancelled`);
      if (resumes >= MAX_RESUMES) throw new HullError('unavailable', `registry ${client.host}: blob ${desc.digest}: the connection dropped ${resumes + 1} times (${(e as Error).message})`);
    } finally {
      if (!ended) res.body.destroy();
    }
    // The body ended: done, or cut short without an error (the size check in the store catches a short blob).
    if (ended && (got >= desc.size || resumes >= MAX_RESUMES)) return;
    await sleep(100 * (resumes + 1));
  }
}

function checkRange(header: string | string[] | undefined, from: number, host: string, digest: string): void {
  const m = /^bytes (\d+)-/.exec(String(header ?? ''));
  if (!m || Number(m[1]) !== from) throw new HullError('invalid', `registry ${host}: blob ${digest}: asked to resume at byte ${from}, got range "${String(header ?? 'none')}"`);
}
