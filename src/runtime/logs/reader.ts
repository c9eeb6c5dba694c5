import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { copyRotations } from './copy-rotation.js';
import { closeAll, closeSegment, LogFiles, type OpenSegment } from './files.js';
import { firstSegment, tailStart, type Judgement, type Position } from './scan.js';

/** Between two files: a line cut at a file's end does not go on in the next one. */
export const FILE_END = Symbol('file end');
export type LogChunk = Buffer | typeof FILE_END;

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

const READ_MAX = 1024 * 1024;

/**
 * A rotated log's bytes, oldest file first, from where the options say, in
 * chunks of at most 1 MiB pulled by the caller (a slow client holds nothing
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
    const start = await startOf(segs, o);
    const limit = await endOf(files, segs, seen, copy);
    yield Buffer.alloc(0); // opened and placed: what could not be read has thrown by now
    const hasPath = segs.at(-1)?.path === path;
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

/** How far PATH is written once the start is found (the tail looked at all of it): a read without follow ends there. */
async function endOf(files: LogFiles, segs: OpenSegment[], seen: number, copy: boolean): Promise<number> {
  const last = segs.at(-1)?.path === files.path ? segs.at(-1) : undefined;
  if (!last) return 0;
  const size = async () => (await last.fh.stat()).size;
  // A copy rotation since the files were opened: PATH's size now is another file's; the rest is found through the rotation.
  return copy ? copyRotations.run(files.path, async () => (copyRotations.count(files.path) === seen ? size() : Infinity)) : size();
}

async function startOf(segs: OpenSegment[], o: ReadLogOptions): Promise<Position> {
  if (o.tail !== undefined && o.tail >= 0) return tailStart(segs, o.tail, o.judge ?? (() => 'count'), o.partialLines);
  if (o.since && o.judge) return firstSegment(segs, (line) => o.judge!(line) === 'stop');
  return { seg: 0, offset: 0 };
}

/** The file being written, as far as this reader has read it. */
interface Current {
  seg?: OpenSegment;
  pos: number;
  /** Copy rotations: how many this reader has accounted for. */
  seen: number;
  /** An older file, not PATH, reached by a reader behind the writer. */
  older?: boolean;
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

async function* readRange(fh: FileHandle | undefined, from: number, to: number): AsyncGenerator<Buffer> {
  for (let pos = from; fh && pos < to; ) {
    const b = await readSome(fh, pos, to);
    if (!b.length) return;
    pos += b.length;
    yield b;
  }
}

async function readSome(fh: FileHandle, pos: number, end = Infinity): Promise<Buffer> {
  const size = Math.min(end, (await fh.stat()).size);
  if (size <= pos) return Buffer.alloc(0);
  const buf = Buffer.allocUnsafe(Math.min(READ_MAX, size - pos));
  const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
  return buf.subarray(0, bytesRead);
}

/**
 * PATH replaced by a new file: once PATH names another inode, the old one is
 * complete (conmon closes it before the rename); read it to its end, then the
 * file after it (a PATH.N when several rotations passed meanwhile), then PATH.
 */
async function* renameCursor(files: LogFiles, cur: Current, follow?: AbortSignal): AsyncGenerator<LogChunk> {
  yield* untilIdle(follow, files.dir, async function* () {
    if (!cur.seg) {
      cur.seg = await openPath(files);
      cur.pos = 0;
      if (!cur.seg) return false;
    }
    // An older file (a reader far behind) that conmon took up as its new PATH: what it held is gone.
    const taken = cur.older && (await stat(files.path).catch(() => undefined))?.ino === cur.seg.ino;
    if (!taken) {
      const b = await readSome(cur.seg.fh, cur.pos);
      if (b.length) {
        cur.pos += b.length;
        yield b;
        return true;
      }
      const st = await stat(files.path).catch(() => undefined);
      if (!st || st.ino === cur.seg.ino) return false;
      // Replaced: what was written before the replacement (after the read above) is there now.
      const rest = await readSome(cur.seg.fh, cur.pos);
      if (rest.length) {
        cur.pos += rest.length;
        yield rest;
        return true;
      }
    }
    const next = await nextAfter(files, cur.seg, taken);
    if (!next) return false;
    await closeSegment(cur.seg);
    Object.assign(cur, { seg: next, pos: 0, older: next.path !== files.path });
    yield FILE_END;
    return true;
  });
}

/**
 * The file that follows `seg`: the next one in order, or PATH when `seg` is
 * no longer among them; after a file taken up as PATH (it was the oldest),
 * the oldest there is.
 */
async function nextAfter(files: LogFiles, seg: OpenSegment, taken = false): Promise<OpenSegment | undefined> {
  const segs = await files.open();
  const i = segs.findIndex((s) => s.ino === seg.ino);
  let next: OpenSegment | undefined;
  if (taken) next = segs[0];
  else if (i >= 0) next = segs[i + 1];
  else if (seg.seq !== undefined) next = segs.find((s) => s.seq !== undefined && s.seq > seg.seq!) ?? segs.at(-1);
  else next = segs.at(-1);
  await closeAll(segs.filter((s) => s !== next));
  return next;
}

/** PATH, opened, when it is there. */
async function openPath(files: LogFiles): Promise<OpenSegment | undefined> {
  const segs = await files.open();
  const cur = segs.at(-1)?.path === files.path ? segs.at(-1) : undefined;
  await closeAll(segs.filter((s) => s !== cur));
  return cur;
}

/**
 * PATH copied and emptied in place (QEMU's console): each read of PATH holds
 * the rotation lock, so a rotation between two reads is seen; the rest of
 * what this reader had not read is then in PATH.N, from its offset there.
 */
async function* copyCursor(files: LogFiles, cur: Current, follow?: AbortSignal): AsyncGenerator<LogChunk> {
  yield* untilIdle(follow, files.dir, async function* () {
    const step = await copyRotations.run(files.path, async () => {
      const moved = copyRotations.count(files.path) !== cur.seen ? copyRotations.after(files.path, cur.seen) : [];
      if (moved.length) {
        const from = Math.max(0, cur.pos - moved[0].base);
        Object.assign(cur, { pos: 0, seen: copyRotations.count(files.path) });
        return { moved: moved.map((r, i) => ({ path: files.gen(r.seq), from: i ? 0 : from })) };
      }
      cur.seg ??= await openPath(files);
      if (!cur.seg) return { data: Buffer.alloc(0) };
      const data = await readSome(cur.seg.fh, cur.pos);
      cur.pos += data.length;
      return { data };
    });
    if ('moved' in step) {
      for (const m of step.moved!) yield* readFileFrom(m.path, m.from);
      return true;
    }
    if (!step.data.length) return false;
    yield step.data;
    return true;
  });
}

/** Without follow: PATH up to `limit`, or, if it is rotated meanwhile, the rest of that from the PATH.N it went to. */
async function* copyUpTo(files: LogFiles, cur: Current, limit: number): AsyncGenerator<Buffer> {
  while (cur.seg && cur.pos < limit) {
    const step = await copyRotations.run(files.path, async () => {
      if (copyRotations.count(files.path) === cur.seen) return { data: await readSome(cur.seg!.fh, cur.pos, limit) };
      const r = copyRotations.after(files.path, cur.seen)[0];
      return { moved: { path: files.gen(r.seq), from: Math.max(0, cur.pos - r.base), to: limit - r.base } };
    });
    if (step.moved) return yield* readFileFrom(step.moved.path, step.moved.from, step.moved.to);
    if (!step.data.length) return;
    cur.pos += step.data.length;
    yield step.data;
  }
}

async function* readFileFrom(path: string, from: number, to = Infinity): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r').catch(() => undefined); // pruned meanwhile: gone
  if (!fh) return;
  try {
    yield* readRange(fh, from, to);
  } finally {
    await fh.close();
  }
}

/**
 * Run `step` (which yields what it read and says whether it did anything)
 * until it is idle; when following, then wait for a change in `dir` (or a
 * quarter second) and go on, until `follow` aborts: then once more until idle.
 */
async function* untilIdle(follow: AbortSignal | undefined, dir: string, step: () => AsyncGenerator<LogChunk, boolean>): AsyncGenerator<LogChunk> {
  const drain = async function* () {
    for (;;) if (!(yield* step())) return;
  };
  yield* drain();
  if (!follow) return;
  const waiter = new Waiter(dir, follow);
  try {
    while (!follow.aborted) {
      await waiter.next();
      yield* drain();
    }
    yield* drain();
  } finally {
    waiter.close();
  }
}

/** Wakes a follower on any change in the log's directory, every 250 ms anyway, and on abort. */
class Waiter {
  private watcher?: FSWatcher;
  private wake?: () => void;
  private timer?: NodeJS.Timeout;

  constructor(dir: string, private signal: AbortSignal) {
    try {
      this.watcher = watch(dir, () => this.wake?.());
      this.watcher.on('error', () => undefined);
    } catch {
      // polling alone still works
    }
    signal.addEventListener('abort', this.onAbort);
  }

  private onAbort = () => this.wake?.();

  next(): Promise<void> {
    if (this.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        clearTimeout(this.timer);
        resolve();
      };
      this.timer = setTimeout(this.wake, 250);
    });
  }

  close(): void {
    this.watcher?.close();
    clearTimeout(this.timer);
    this.wake?.();
    this.signal.removeEventListener('abort', this.onAbort);
  }
}
