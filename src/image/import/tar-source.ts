import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { HullError, invalid, isHullError } from '../../core/errors.js';
import type { BlobInfo, ContentStore } from '../content/content-store.js';
import { decompressor, detectCompression } from '../unpack/decompress.js';
import { entryComponents } from '../unpack/safe-path.js';
import { chunks, drain, type TarEntry } from '../unpack/tar-entry.js';
import { type Expected, type ImportSource, MAX_METADATA } from './source.js';

const BLOB_RE = /^blobs\/sha256\/([0-9a-f]{64})$/;

/**
 * A tar archive (OCI layout or docker save; gzip-compressed or not), read
 * in one pass: a tar has no index and docker writes manifest.json last, so
 * every regular file goes straight into the content store as it streams by,
 * and files are then found by name. A file under blobs/sha256/ is verified
 * against its name on the way in. Names are only ever lookup keys here,
 * never paths on disk, so a hostile name cannot write anywhere.
 */
export async function openTarSource(file: string, content: ContentStore, created: Set<string>, label?: string): Promise<ImportSource> {
  const what = label ?? `image archive "${file}"`;
  const files = new Map<string, BlobInfo>();
  const links = new Map<string, string>();
  await scan(file, what, async (name, entry) => {
    const blob = await ingestEntry(content, name, entry, what);
    files.set(name, blob);
    if (blob.created) created.add(blob.digest);
  }, links);

  /** docker save writes repeated layers as symlinks to the first copy. */
  function lookup(path: string): BlobInfo | undefined {
    let key = normalize(path);
    for (let hops = 0; hops < 16 && key !== undefined; hops++) {
      const hit = files.get(key);
      if (hit) return hit;
      key = links.get(key);
    }
    return undefined;
  }

  return {
    what,
    created,
    async readFile(path) {
      const blob = lookup(path);
      if (!blob) return undefined;
      if (blob.size > MAX_METADATA) throw invalid(`${what}: "${path}" is too large for a metadata file`);
      return content.readBlob(blob.digest);
    },
    async ingest(path: string, expected?: Expected): Promise<BlobInfo> {
      const blob = lookup(path);
      if (!blob) throw invalid(`${what}: "${path}" is missing`);
      if (expected && (blob.digest !== expected.digest || (expected.size !== undefined && blob.size !== expected.size))) {
        throw invalid(`${what}: "${path}" is ${blob.digest} (${blob.size} bytes), but the descriptor says ${expected.digest} (${expected.size ?? '?'} bytes)`);
      }
      return blob;
    },
  };
}

type OnFile = (name: string, entry: TarEntry) => Promise<void>;

async function scan(file: string, what: string, onFile: OnFile, links: Map<string, string>): Promise<void> {
  const extract = tar.extract();
  const feed = pipeline(createReadStream(file), decompressor(await detectCompression(file, what), what), extract);
  feed.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const name = normalize(h.name);
      if (name !== undefined && (h.type === 'file' || h.type === 'contiguous-file')) await onFile(name, entry);
      else if (name !== undefined && (h.type === 'symlink' || h.type === 'link')) {
        const target = h.type === 'symlink' ? normalize(posix.join(posix.dirname(name), h.linkname ?? '')) : normalize(h.linkname ?? '');
        if (target !== undefined) links.set(name, target);
      }
      await drain(entry);
    }
    await feed;
  } catch (e) {
    extract.destroy(e as Error);
    await feed.catch(() => undefined);
    if (isHullError(e)) throw e.wrap(what);
    throw new HullError('invalid', `${what}: not a readable tar archive (${(e as Error).message})`);
  }
}

async function ingestEntry(content: ContentStore, name: string, entry: TarEntry, what: string): Promise<BlobInfo & { created: boolean }> {
  const m = BLOB_RE.exec(name);
  const expected = m ? `sha256:${m[1]}` : undefined;
  if (expected && (await content.hasBlob(expected))) return { ...(await content.statBlob(expected))!, created: false };
  try {
    // A plain generator, not the entry itself: the store destroys streams it stops reading, and
    // destroying an entry would tear down the whole archive scan.
    return await content.writeBlob(
      (async function* () {
        yield* chunks(entry);
      })(),
      expected,
      entry.header.size,
    );
  } catch (e) {
    throw isHullError(e) ? e.wrap(`"${name}"`) : e;
  }
}

/** A name as a lookup key (`./a//b` → `a/b`); names with `..` or absolute ones match nothing. */
function normalize(name: string): string | undefined {
  try {
    const parts = entryComponents(posix.normalize(name), 'archive entry');
    return parts.length > 0 ? parts.join('/') : undefined;
  } catch {
    return undefined;
  }
}
