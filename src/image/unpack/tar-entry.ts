import type { ExtractEvents, Header } from 'tar-stream';

/** One entry of a tar-stream extract: a streamx Readable with the entry's header. */
export type TarEntry = ExtractEvents['entry'][1];
export type TarHeader = Header;

/** streamx streams are async-iterable at run time; their typings do not say so. */
export const chunks = (entry: TarEntry): AsyncIterable<Buffer> => entry as unknown as AsyncIterable<Buffer>;

/** tar-stream needs each entry read to its end before it parses the next. */
export async function drain(entry: TarEntry): Promise<void> {
  if (entry.destroyed) return;
  for await (const _ of chunks(entry)) {
    // discard
  }
}
