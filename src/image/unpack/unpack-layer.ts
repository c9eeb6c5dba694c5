import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { HullError, isHullError } from '../../core/errors.js';
import { run } from '../exec.js';
import { CHUNK, decompressor, detectCompression, MeteredStream } from './decompress.js';
import { rawPax } from './pax-xattrs.js';
import { TarApplier } from './tar-apply.js';

/** One layer to unpack: plain data, so it can be posted to a worker thread. */
export interface UnpackJob {
  /** The layer blob (gzip, zstd or plain tar). */
  blob: string;
  /** A directory to create and fill; nothing else is written. */
  dir: string;
  /** The blob's digest, for messages. */
  digest: string;
  /** The sha256 the uncompressed tar must have. */
  diffId: string;
  /** Refuse more uncompressed bytes than this (decompression bombs). */
  maxBytes: number;
}

/**
 * Unpack a layer blob into `job.dir` safely (see TarApplier), checking the
 * uncompressed tar against its diff_id. Throws a HullError: 'invalid' for a
 * bad layer, 'resource' for the size limit or a full disk. The files are
 * flushed to disk (syncfs) before it returns.
 */
export async function unpackLayer(job: UnpackJob): Promise<void> {
  const what = `layer ${job.digest}`;
  const hash = createHash('sha256');
  const meter = new MeteredStream(hash, job.maxBytes, what);
  const extract = tar.extract();
  rawPax(extract); // xattr values byte for byte (see pax-xattrs.ts)
  await mkdir(job.dir, { mode: 0o755 });
  const applier = new TarApplier(job.dir);
  const feed = pipeline(createReadStream(job.blob, { highWaterMark: CHUNK }), decompressor(await detectCompression(job.blob, what), what), meter, extract);
  feed.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
  try {
    for await (const entry of extract) await applier.apply(entry);
    await feed;
  } catch (e) {
    extract.destroy(e as Error);
    const fed = await feed.then(() => undefined, (fe: unknown) => fe);
    // The first error that is ours (a refused entry, the size limit) explains more than a torn-down stream.
    throw classify(isHullError(e) || !isHullError(fed) ? e : fed, what);
  }
  await applier.finish();
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== job.diffId) {
    throw new HullError('invalid', `${what}: uncompressed content is ${got}, but the image config says ${job.diffId}`);
  }
  await run('sync', ['-f', job.dir], 600_000);
}

/** Bad input (corrupt gzip or zstd, not a tar) is 'invalid'; a full disk is 'resource'; the rest 'internal'. */
function classify(e: unknown, what: string): HullError {
  if (isHullError(e)) return e;
  const err = e as NodeJS.ErrnoException;
  const msg = `${what}: ${err?.message ?? String(e)}`;
  if (err?.code === 'ENOSPC' || err?.code === 'EDQUOT') return new HullError('resource', msg);
  // A path too long for the host is a property of the layer, not a host fault.
  if (err?.code === 'ENAMETOOLONG') return new HullError('invalid', msg);
  if (err?.syscall) return new HullError('internal', msg);
  return new HullError('invalid', msg);
}
