import { open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { HullError } from '../../core/errors.js';

export type Compression = 'none' | 'gzip';

/**
 * Layers are detected by their first bytes rather than trusted by media
 * type: docker-save layers are plain tars whatever a manifest says, and a
 * wrong media type should not make a good layer fail.
 */
const UNSUPPORTED: Array<{ name: string; magic: number[] }> = [
  // Node 20's zlib has no zstd; it arrives in Node 22.15 / 23.8.
  { name: 'zstd', magic: [0x28, 0xb5, 0x2f, 0xfd] },
  { name: 'xz', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { name: 'bzip2', magic: [0x42, 0x5a, 0x68] },
];

export async function detectCompression(path: string, what: string): Promise<Compression> {
  const fh = await open(path, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(6);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  for (const u of UNSUPPORTED) {
    if (u.magic.every((b, i) => head[i] === b)) {
      throw new HullError('unavailable', `${what} is ${u.name}-compressed; ${u.name} layers are not yet supported (gzip and uncompressed layers are)`);
    }
  }
  return 'none';
}

/** Read and decompress in chunks of this size. */
export const CHUNK = 256 * 1024;

export function decompressor(c: Compression): Transform {
  // Large chunks: each chunk costs a trip through the tar parser and a write, so 16 KiB ones (zlib's default) make unpacking CPU-bound.
  return c === 'gzip' ? createGunzip({ chunkSize: CHUNK }) : new Transform({ transform: (chunk, _enc, cb) => cb(null, chunk) });
}

/**
 * Counts and hashes the uncompressed stream (the diff_id is the sha256 of
 * the whole tar, padding included) and stops it once it passes `limit`
 * bytes, which defeats decompression bombs before they reach the disk.
 */
export class MeteredStream extends Transform {
  bytes = 0;

  constructor(
    private readonly hash: { update(b: Buffer): unknown },
    private readonly limit: number,
    private readonly what: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      cb(new HullError('resource', `${this.what} unpacks to more than ${this.limit} bytes, the limit for one layer's uncompressed size`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }
}
