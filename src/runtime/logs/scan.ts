import type { FileHandle } from 'node:fs/promises';
import type { OpenSegment } from './files.js';

/**
 * What a line means to a tail: it counts, it is the first part of the line
 * after it (a record without its newline: it goes with the one it starts),
 * it is passed over (after --until), or it is too old (before --since): start after it.
 */
export type Judgement = 'count' | 'part' | 'skip' | 'stop';

/** A place in a list of open files. */
export interface Position {
  seg: number;
  offset: number;
}

const CHUNK = 64 * 1024;
/** A longer line (raw console text without newlines) is cut, so a tail never holds more than this. */
const MAX_LINE = 1024 * 1024;

/**
 * Where the last `n` counted lines begin, read from the end backwards (never
 * the whole log): the newest file first, then older ones while more are
 * needed. A last line without its newline is a record still being written
 * and left out, unless `partialLines` (raw text, where it is a prompt).
 */
export async function tailStart(segs: OpenSegment[], n: number, judge: (line: Buffer) => Judgement, partialLines = false, lastSize?: number): Promise<Position> {
  // The newest file as far as the read goes (it may be growing): older ones are whole.
  const sizeOf = async (i: number) => (i === segs.length - 1 && lastSize !== undefined ? lastSize : (await segs[i].fh.stat()).size);
  if (n <= 0) return endOf(segs, partialLines, sizeOf);
  let left = n;
  let after: Judgement | undefined; // what the line after this one was (scanning backwards)
  for (let i = segs.length - 1; i >= 0; i--) {
    let found: number | undefined;
    let done = false;
    await scanBack(segs[i].fh, await sizeOf(i), partialLines, (line, start) => {
      const j = judge(line);
      if (found !== undefined) {
        // The counted line's first parts come with it.
        if (j === 'part') found = start;
        else done = true;
      } else if (j === 'stop') {
        found = start + line.length + 1;
        done = true;
      } else if (j === 'count' || (j === 'part' && after !== 'count' && after !== 'part')) {
        // A full line, or the last part of one not finished yet.
        if (--left === 0) found = start;
      }
      after = j;
      return done;
    });
    if (found !== undefined) return { seg: i, offset: found };
  }
  return { seg: 0, offset: 0 };
}

/** After the last whole line (after everything, for raw text): what `--tail 0` starts from. */
async function endOf(segs: OpenSegment[], partialLines: boolean, sizeOf: (i: number) => Promise<number>): Promise<Position> {
  const seg = segs.length - 1;
  if (seg < 0) return { seg: 0, offset: 0 };
  if (partialLines) return { seg, offset: await sizeOf(seg) };
  let offset = 0;
  await scanBack(segs[seg].fh, await sizeOf(seg), false, (line, start) => {
    offset = start + line.length + 1;
    return true;
  });
  return { seg, offset };
}

/** The first file worth reading: the newest whose first line is too old (older files are all too old). */
export async function firstSegment(segs: OpenSegment[], tooOld: (line: Buffer) => boolean): Promise<Position> {
  for (let i = segs.length - 1; i > 0; i--) {
    const first = await firstLine(segs[i].fh);
    if (first && tooOld(first)) return { seg: i, offset: 0 };
  }
  return { seg: 0, offset: 0 };
}

async function firstLine(fh: FileHandle): Promise<Buffer | undefined> {
  const buf = Buffer.alloc(CHUNK);
  const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
  const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
  return nl < 0 ? undefined : buf.subarray(0, nl);
}

/**
 * Visit a file's lines from the last to the first, each without its newline
 * and with the offset it starts at, until `visit` says stop (true).
 */
export async function scanBack(fh: FileHandle, size: number, partialLines: boolean, visit: (line: Buffer, start: number) => boolean): Promise<boolean> {
  let buf = Buffer.alloc(0);
  let bufStart = size; // buf holds the bytes [bufStart, lineEnd)
  let lineEnd = size;
  let last = true;
  const emit = (from: number, start: number): boolean => {
    const line = buf.subarray(from, lineEnd - bufStart);
    const isTail = last;
    last = false;
    lineEnd = start - 1;
    // The piece after the last newline: nothing, or a line still being written.
    if (isTail && (!line.length || !partialLines)) return false;
    return visit(line, start);
  };
  for (;;) {
    const nl = lineEnd > bufStart ? buf.lastIndexOf(0x0a, lineEnd - bufStart - 1) : -1;
    if (nl >= 0) {
      if (emit(nl + 1, bufStart + nl + 1)) return true;
      continue;
    }
    if (bufStart === 0) return lineEnd >= 0 ? emit(0, 0) : false;
    if (lineEnd - bufStart >= MAX_LINE) {
      if (emit(0, bufStart)) return true;
      lineEnd = bufStart; // cut: the rest of this line is visited as a line of its own
      buf = Buffer.alloc(0);
    }
    const from = Math.max(0, bufStart - CHUNK);
    const chunk = Buffer.alloc(bufStart - from);
    const { bytesRead } = await fh.read(chunk, 0, chunk.length, from);
    if (bytesRead < chunk.length) return false; // the file shrank under us (a rotation by copy): nothing more to trust
    buf = Buffer.concat([chunk, buf.subarray(0, lineEnd - bufStart)]);
    bufStart = from;
  }
}
