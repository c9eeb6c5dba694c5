import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isHullError } from '../../core/errors.js';
import { ContentStore } from './content-store.js';
import { sha256 } from './digest.js';

describe('ContentStore', () => {
  let root: string;
  let store: ContentStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'hull-content-'));
    store = new ContentStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  const leftovers = async () => (await readdir(store.tmpDir).catch(() => [])).length;

  it('stores a buffer under its sha256 and reads it back', async () => {
    const data = Buffer.from('hello hull');
    const blob = await store.writeBlob(data);
    expect(blob).toEqual({ digest: sha256(data), size: data.length, created: true });
    expect(store.blobPath(blob.digest)).toBe(join(root, 'blobs', 'sha256', blob.digest.slice(7)));
    expect(await store.hasBlob(blob.digest)).toBe(true);
    expect((await store.readBlob(blob.digest)).toString()).toBe('hello hull');
    expect(await leftovers()).toBe(0);
  });

  it('stores a stream, verified against the expected digest and size', async () => {
    const data = Buffer.alloc(3 * 65536 + 7, 7);
    const blob = await store.writeBlob(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), sha256(data), data.length);
    expect(blob.created).toBe(true);
    expect((await readFile(store.blobPath(blob.digest))).equals(data)).toBe(true);
  });

  it('does not rewrite a blob it already has', async () => {
    const data = Buffer.from('twice');
    await store.writeBlob(data);
    expect((await store.writeBlob(data)).created).toBe(false);
    expect((await store.writeBlob(Readable.from([data]), sha256(data))).created).toBe(false);
  });

  it('refuses a digest mismatch and leaves nothing behind', async () => {
    const wrong = sha256('something else');
    const err = await store.writeBlob(Buffer.from('content'), wrong).catch((e: unknown) => e);
    expect(isHullError(err, 'invalid')).toBe(true);
    expect((err as Error).message).toMatch(/digest mismatch/);
    expect(await store.hasBlob(wrong)).toBe(false);
    expect(await store.hasBlob(sha256('content'))).toBe(false);
    expect(await leftovers()).toBe(0);
  });

  it('refuses a size mismatch, stopping a stream that runs long', async () => {
    const data = Buffer.from('0123456789');
    const err = await store.writeBlob(Readable.from([data]), sha256(data), 4).catch((e: unknown) => e);
    expect(isHullError(err, 'invalid')).toBe(true);
    expect(await leftovers()).toBe(0);
  });

  it('refuses malformed and non-sha256 digests', async () => {
    expect(() => store.blobPath('sha256:../../etc/passwd')).toThrow(/invalid digest/);
    expect(() => store.blobPath(`sha512:${'a'.repeat(128)}`)).toThrow(/unsupported digest algorithm "sha512"/);
  });

  it('deletes a blob, and deleting a missing one is fine', async () => {
    const { digest } = await store.writeBlob(Buffer.from('bye'));
    await store.deleteBlob(digest);
    await store.deleteBlob(digest);
    expect(await store.hasBlob(digest)).toBe(false);
    await expect(store.readBlob(digest)).rejects.toThrow(/not found/);
  });
});
