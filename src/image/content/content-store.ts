import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { HullError, invalid, notFound } from '../../core/errors.js';
import { digestHex } from './digest.js';

export interface BlobInfo {
  digest: string;
  size: number;
}

/** Bytes to store: a buffer, or a stream (Node or streamx) that is read to its end. */
export type BlobSource = Buffer | AsyncIterable<Uint8Array>;

export interface WrittenBlob extends BlobInfo {
  /** False when the blob was already in the store and nothing was written. */
  created: boolean;
}

/**
 * ContentStore: immutable blobs named by their sha256, the one place image
 * bytes enter Hull. Importers, and later the registry client, write through
 * `writeBlob`, which hashes while it writes and only makes a blob visible once
 * its digest (and size, when known) is verified, so a blob that exists is
 * always whole and correct.
 *
 *   <root>/image/blobs/sha256/<hex>   the blobs
 *   <root>/image/tmp/                 writes in progress (rename makes them visible)
 *
 *   const { digest } = await content.writeBlob(stream, 'sha256:ab…', 1234);
 *   const manifest = JSON.parse((await content.readBlob(digest)).toString());
 */
export class ContentStore {
  readonly blobsDir: string;
  readonly tmpDir: string;

  constructor(imageRoot: string) {
    this.blobsDir = join(imageRoot, 'blobs', 'sha256');
    this.tmpDir = join(imageRoot, 'tmp');
  }

  blobPath(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  async hasBlob(digest: string): Promise<boolean> {
    return (await this.statBlob(digest)) !== undefined;
  }

  async statBlob(digest: string): Promise<BlobInfo | undefined> {
    try {
      const st = await stat(this.blobPath(digest));
      return { digest, size: st.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Read a whole blob; `maxSize` guards against pulling a huge blob into memory by mistake. */
  async readBlob(digest: string, maxSize = 16 * 1024 * 1024): Promise<Buffer> {
    const info = await this.statBlob(digest);
    if (!info) throw notFound(`blob ${digest}`);
    if (info.size > maxSize) throw invalid(`blob ${digest} is ${info.size} bytes, over the ${maxSize} byte limit for metadata`);
    return readFile(this.blobPath(digest));
  }

  openBlob(digest: string): Readable {
    return createReadStream(this.blobPath(digest));
  }

  async deleteBlob(digest: string): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  /**
   * Store a blob from a stream or buffer. With `expectedDigest` the content
   * must hash to it (and be `expectedSize` bytes, when given), else HullError
   * 'invalid' and nothing is left behind. Without it the digest is computed.
   */
  async writeBlob(src: BlobSource, expectedDigest?: string, expectedSize?: number): Promise<WrittenBlob> {
    if (expectedDigest !== undefined) {
      digestHex(expectedDigest);
      const have = await this.statBlob(expectedDigest);
      // Blobs are verified on the way in, so an existing one is already right.
      if (have && (expectedSize === undefined || have.size === expectedSize)) {
        destroy(src);
        return { ...have, created: false };
      }
    }
    await mkdir(this.tmpDir, { recursive: true });
    const tmp = join(this.tmpDir, `blob-${randomBytes(8).toString('hex')}`);
    try {
      const got = await writeHashed(tmp, src, expectedSize);
      verify(got, expectedDigest, expectedSize);
      const created = !(await this.hasBlob(got.digest));
      if (created) await this.commit(tmp, got.digest);
      else await unlink(tmp);
      return { ...got, created };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** Rename into place and fsync the directory, so the name survives a crash too. */
  private async commit(tmp: string, digest: string): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await rename(tmp, this.blobPath(digest));
    const dir = await open(this.blobsDir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

/** Write `src` to a new file at `path`, hashing as it goes; fsync before returning. */
async function writeHashed(path: string, src: BlobSource, maxSize?: number): Promise<BlobInfo> {
  const hash = createHash('sha256');
  let size = 0;
  const fh = await open(path, 'wx', 0o644);
  try {
    const chunks: AsyncIterable<Uint8Array> | Buffer[] = Buffer.isBuffer(src) ? [src] : src;
    // Network chunks are small (16-64 KiB): gather them, so a write costs one trip to the thread pool per MiB, not per chunk.
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    for await (const chunk of chunks) {
      size += chunk.length;
      // Stop early rather than spool a stream that is already too long.
      if (maxSize !== undefined && size > maxSize) throw invalid(`blob is larger than the expected ${maxSize} bytes`);
      hash.update(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= WRITE_BATCH) {
        await writeAll(fh, pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
      }
    }
    if (pendingBytes > 0) await writeAll(fh, pending, pendingBytes);
    await fh.sync();
  } catch (e) {
    destroy(src);
    throw e;
  } finally {
    await fh.close();
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** Stop a stream we will not read (further), so its file or socket is released. */
function destroy(src: BlobSource): void {
  const d = (src as { destroy?: () => void }).destroy;
  if (!Buffer.isBuffer(src) && typeof d === 'function') d.call(src);
}

const WRITE_BATCH = 1024 * 1024;

async function writeAll(fh: FileHandle, chunks: Uint8Array[], total: number): Promise<void> {
  const { bytesWritten } = await fh.writev(chunks);
  if (bytesWritten === total) return;
  // A short write (rare, on a full or odd file system): finish the rest one buffer at a time.
  const rest = Buffer.concat(chunks).subarray(bytesWritten);
  let off = 0;
  while (off < rest.length) off += (await fh.write(rest, off)).bytesWritten;
}

function verify(got: BlobInfo, expectedDigest?: string, expectedSize?: number): void {
  if (expectedSize !== undefined && got.size !== expectedSize) {
    throw new HullError('invalid', `blob ${expectedDigest ?? got.digest}: size mismatch: expected ${expectedSize} bytes, got ${got.size}`);
  }
  if (expectedDigest !== undefined && got.digest !== expectedDigest) {
    throw new HullError('invalid', `blob digest mismatch: expected ${expectedDigest}, got ${got.digest}`);
  }
}
