import { createHash } from 'node:crypto';
import { invalid } from '../../core/errors.js';

/**
 * Digests as OCI writes them: `sha256:<64 lowercase hex>`. Only sha256 is
 * accepted; it is what every registry and image tool produces, and refusing
 * the rest keeps blob paths a fixed, safe shape (`blobs/sha256/<hex>`).
 */
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export const isDigest = (s: string): boolean => DIGEST_RE.test(s);

/** The hex part of a digest, after checking its shape. */
export function digestHex(digest: string): string {
  if (!isDigest(digest)) {
    const algo = /^([a-z0-9+._-]+):/.exec(digest)?.[1];
    if (algo && algo !== 'sha256') throw invalid(`unsupported digest algorithm "${algo}" in "${digest}": only sha256 is supported`);
    throw invalid(`invalid digest "${digest}": expected sha256:<64 hex digits>`);
  }
  return digest.slice('sha256:'.length);
}

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
