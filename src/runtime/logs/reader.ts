import { stat } from 'node:fs/promises';
import { copyRotations } from './copy-rotation.js';
import { closeAll, closeSegment, LogFiles, type OpenSegment } from './files.js';
import { copyCursor, copyUpTo, renameCursor, type Current } from './follow.js';
import { FILE_END, readRange, readSome, type LogChunk } from './read-bytes.js';
import { firstSegment, tailStart, type Judgement, type Position } from './scan.js';

export { FILE_END, type LogChunk };

export interface ReadLogOptions {
  /** How PATH is rotated (files.ts): replaced by a new file (conmon, the daemon's writer) or copied and emptied (QEMU). */
  rotation: 'rename' | 'copy';
  /** Begin this many lines before the end; absent: at the oldest file's start. */
  tail?: number;
  /** What a line means to the tail (and, with `since`, which files are too old to open). */
  judge?: (line: Buffer) => Judgement;
  /** Only files that may hold lines at or after --since: the judge says `stop` for older lines. */
  since?: boolean;
  /** A last line without a newline is a line (raw text), not a record being written. */
  partialLines?: boolean;
  /** Go on reading what is written until this aborts, then read what is left and end. */
  follow?: AbortSignal;
}

/**
 * A rotated log's bytes, oldest file first, from where the options say, in
 * chunks of at most 256 KiB pulled by the caller (a slow client holds nothing
 * more than that); with `follow`, then what is written after, across
 * rotations: a file replaced under the reader is read to its end before the
 * next one is begun, so nothing is lost or read twice. Errors (a file that is
 * not a file, an I/O error) are thrown to the caller.
 */
export async function* readLog(path: string, o: ReadLogOptions): AsyncGenerator<LogChunk> {
  const files = new LogFiles(path);
  const copy = o.rotation === 'copy';
  // With copy rotation, which rotations a reader has seen must match the files it opened.
  const { segs, seen } = copy ? await copyRotations.run(path, () => snapshot(files)) : await snapshot(files);
  let cur: Current | undefined;
  try {
    // How far PATH goes for this read: the tail is looked for, and a read without follow ends, there.
    const limit = await endOf(files, segs, seen, copy);
    const hasPath = segs.at(-1)?.path === path;
    const start = await startOf(segs, o, hasPath && Number.isFinite(limit) ? limit : undefined);
    yield Buffer.alloc(0); // opened and placed: what could not be read has thrown by now
    const older = hasPath ? segs.length - 1 : segs.length;
    for (let i = start.seg; i < older; i++) {
      yield* readOlder(path, segs[i], i === start.seg ? start.offset : 0);
      yield FILE_END;
    }
    const last = hasPath ? segs.pop()! : undefined;
    cur = { seg: last, pos: last && start.seg === older ? start.offset : 0, seen };
    // Without follow, PATH as far as it was written when the read began: a writer faster than the reader does not keep it going.
    if (!o.follow) yield* copy ? copyUpTo(files, cur, limit) : readRange(last?.fh, cur.pos, limit);
    else yield* (copy ? copyCursor : renameCursor)(files, cur, o.follow);
  } finally {
    await closeAll(segs);
    if (cur?.seg) await closeSegment(cur.seg);
  }
}

interface Snapshot {
  segs: OpenSegment[];
  /** Copy rotations seen when the files were opened. */
  seen: number;
}

async function snapshot(files: LogFiles): Promise<Snapshot> {
  return { segs: await files.open(), seen: copyRotations.count(files.path) };
}

/** How far PATH is written when the read begins (0 when there is none). */
async function endOf(files: LogFiles, segs: OpenSegment[], seen: number, copy: boolean): Promise<number> {
  const last = segs.at(-1)?.path === files.path ? segs.at(-1) : undefined;
  if (!last) return 0;
  const size = async () => (await last.fh.stat()).size;
  // A copy rotation since the files were opened: PATH's size now is another file's; the rest is found through the rotation.
  return copy ? copyRotations.run(files.path, async () => (copyRotations.count(files.path) === seen ? size() : Infinity)) : size();
}

async function startOf(segs: OpenSegment[], o: ReadLogOptions, lastSize?: number): Promise<Position> {
  if (o.tail !== undefined && o.tail >= 0) return tailStart(segs, o.tail, o.judge ?? (() => 'count'), o.partialLines, lastSize);
  if (o.since && o.judge) return firstSegment(segs, (line) => o.judge!(line) === 'stop');
  return { seg: 0, offset: 0 };
}

/** An older file to its end, unless conmon takes it up as the new PATH meanwhile (conmon-rotation.ts): then it is gone. */
async function* readOlder(path: string, seg: OpenSegment, from: number): AsyncGenerator<Buffer> {
  for (let pos = from; ; ) {
    const b = await readSome(seg.fh, pos);
    if (!b.length || (await stat(path).catch(() => undefined))?.ino === seg.ino) return;
    pos += b.length;
    yield b;
  }
}

