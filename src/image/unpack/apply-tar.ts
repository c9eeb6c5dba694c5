import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { TarApplier } from './tar-apply.js';

/**
 * Unpack a tar stream into `into` with the layer applier, so nothing in it can
 * land outside `into` (build contexts, ADD of local archives). `streams` is the
 * source and any decoders before the tar parser; `fail` turns an error into the
 * caller's own.
 */
export async function applyTar(streams: Array<NodeJS.ReadableStream | NodeJS.ReadWriteStream>, into: string, fail: (e: unknown) => Error): Promise<void> {
  const extract = tar.extract();
  const applier = new TarApplier(into);
  const feed = (pipeline as (...s: unknown[]) => Promise<void>)(...streams, extract);
  feed.catch(() => undefined);
  try {
    for await (const entry of extract) await applier.apply(entry);
    await feed;
  } catch (e) {
    extract.destroy(e as Error);
    throw fail(e);
  }
  await applier.finish();
}
