import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { copyRotations } from './copy-rotation.js';
import { closeAll, closeSegment, type LogFiles, type OpenSegment } from './files.js';
import { FILE_END, readFileFrom, readSome, type LogChunk } from './read-bytes.js';

/**
 * Reading PATH, the file being written, past the files a read began with:
 * across rotations when following (renameCursor, copyCursor), or up to where
 * it was when the read began (copyUpTo; a renamed PATH needs nothing more
 * than its open file).
 */
/** The file being written, as far as this reader has read it. */
export interface Current {
  seg?: OpenSegment;
  pos: number;
  /** Copy rotations: how many this reader has accounted for. */
  seen: number;
  /** An older file, not PATH, reached by a reader behind the writer. */
  older?: boolean;
}

/**
 * PATH replaced by a new file: once PATH names another inode, the old one is
 * complete (conmon closes it before the rename); read it to its end, then the
 * file after it (a PATH.N when several rotations passed meanwhile), then PATH.
 */
export async function* renameCursor(files: LogFiles, cur: Current, follow?: AbortSignal): AsyncGenerator<LogChunk> {
  yield* untilIdle(follow, files.dir, async function* () {
    if (!cur.seg) {
      cur.seg = await openPath(files);
      cur.pos = 0;
      if (!cur.seg) return false;
    }
    // An older file (a reader far behind) that conmon took up as its new PATH: what it held is gone.
    // (One this reader found empty was the next PATH made ready: it reads on in it as PATH.)
    let taken = cur.older && (await stat(files.path).catch(() => undefined))?.ino === cur.seg.ino;
    if (taken && cur.pos === 0) taken = cur.older = false;
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
export async function* copyCursor(files: LogFiles, cur: Current, follow?: AbortSignal): AsyncGenerator<LogChunk> {
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
export async function* copyUpTo(files: LogFiles, cur: Current, limit: number): AsyncGenerator<Buffer> {
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
