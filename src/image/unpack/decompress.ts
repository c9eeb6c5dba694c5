import { open } from 'node:fs/promises';
import { type Duplex, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { HullError } from '../../core/errors.js';
import { ZstdDecompress } from './zstd-stream.js';

export type Compression = 'none' | 'gzip' | 'zstd';

/**
 * Layers are detected by their first bytes rather than trusted by media
 * type: docker-save layers are plain tars whatever a manifest says, and a
 * wrong media type should not make a good layer fail.
 */
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const UNSUPPORTED: Array<{ name: string; magic: number[] }> = [
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
  if (ZSTD_MAGIC.every((b, i) => head[i] === b)) return 'zstd';
  for (const u of UNSUPPORTED) {
    if (u.magic.every((b, i) => head[i] === b)) {
      throw new HullError('unavailable', `${what} is ${u.name}-compressed; ${u.name} layers are not supported (gzip, zstd and uncompressed layers are)`);
    }
  }
  return 'none';
}

/** Read and decompress in chunks of this size. */
export const CHUNK = 256 * 1024;

/** `what` names the layer in errors. zstd goes through the `zstd` binary (Node 20's zlib has none; it arrives in 22.15). */
export function decompressor(c: Compression, what: string): Duplex {
  // Large chunks: each chunk costs a trip through the tar parser and a write, so 16 KiB ones (zlib's default) make unpacking CPU-bound.
  if (c === 'gzip') return createGunzip({ chunkSize: CHUNK });
  if (c === 'zstd') return new ZstdDecompress(what);
  return new Transform({ transform: (chunk, _enc, cb) => cb(null, chunk) });
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
