import * as tar from 'tar-stream';
import type { TarHeader } from './unpack/tar-entry.js';

/** One tar entry to pack: a header and, for a regular file, its bytes. */
export interface PackEntry {
  header: Partial<TarHeader> & { name: string };
  data?: Buffer;
}

/**
 * Pack entries, in the order given, into an in-memory tar. Meant for small
 * archives Hull builds itself (the built-in busybox image, test fixtures);
 * the bytes depend only on the entries, so fixed mtimes give a stable digest.
 */
export async function packTar(entries: PackEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const out: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack as unknown as AsyncIterable<Buffer>) out.push(chunk);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.data) pack.entry({ ...e.header, size: e.data.length }, e.data, cb);
      else pack.entry(e.header, cb);
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(out);
}
