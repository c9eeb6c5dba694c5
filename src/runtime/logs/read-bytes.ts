import { open, type FileHandle } from 'node:fs/promises';

/** Between two files: a line cut at a file's end does not go on in the next one. */
export const FILE_END = Symbol('file end');
export type LogChunk = Buffer | typeof FILE_END;

/** The most one read takes: what a slow client makes the daemon hold. */
const READ_MAX = 256 * 1024;

export async function* readRange(fh: FileHandle | undefined, from: number, to: number): AsyncGenerator<Buffer> {
  for (let pos = from; fh && pos < to; ) {
    const b = await readSome(fh, pos, to);
    if (!b.length) return;
    pos += b.length;
    yield b;
  }
}

export async function readSome(fh: FileHandle, pos: number, end = Infinity): Promise<Buffer> {
  const size = Math.min(end, (await fh.stat()).size);
  if (size <= pos) return Buffer.alloc(0);
  const buf = Buffer.allocUnsafe(Math.min(READ_MAX, size - pos));
  const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
  return buf.subarray(0, bytesRead);
}

export async function* readFileFrom(path: string, from: number, to = Infinity): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r').catch(() => undefined); // pruned meanwhile: gone
  if (!fh) return;
  try {
    yield* readRange(fh, from, to);
  } finally {
    await fh.close();
  }
}
