import { closeSync, linkSync, lstatSync, openSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { basename } from 'node:path';
import type { LogFiles } from './files.js';
import { seqsIn } from './files.js';
import { isHeld } from './held.js';

/**
 * Keeping a container's log as docker's `local` driver does, with conmon
 * 2.1's --log-size-max, which on its own only truncates: when a record would
 * take PATH past the limit, conmon opens PATH.tmp (O_CREAT|O_TRUNC) and
 * renames it over PATH. The daemon makes that a rotation with hard links,
 * made ahead of time, so conmon's rename does the rest without waiting for it:
 *
 *   PATH is also linked as the newest PATH.N, so the file conmon replaces
 *   lives on as an older file;
 *   PATH.tmp is armed ahead of the next rotation: linked to a new empty
 *   PATH.N (so the next PATH is linked from its first byte), or, once
 *   maxFile - 1 older files exist, to the oldest, so conmon's own O_TRUNC
 *   frees it the moment it begins the new file: never more than maxFile
 *   files, with no race against the daemon.
 *
 * After a rotation that took up the oldest file, PATH is that file under its
 * old number: the name moves to the top. A daemon that misses a rotation
 * (busy, or down) leaves conmon to make a fresh PATH.tmp at the next one: one
 * file more until it catches up; missing two in a row loses the file between.
 * PATH.tmp is only ever created (link fails if conmon's is there), never
 * removed while conmon runs: conmon exits when its rename finds no PATH.tmp.
 *
 * All of it synchronous, a few metadata calls, run on the keepers' own thread
 * (keeper.ts), so a daemon busy with readers and requests is not late.
 */
export function keepConmonLog(files: LogFiles, maxFile: number): void {
  const st = scan(files);
  if (maxFile < 2) return pruneOld(st, 0);
  if (st.current !== undefined) linkCurrentOnTop(files, st);
  pruneOld(st, maxFile - 1);
  if (st.tmp === undefined) arm(files, st, maxFile);
}

/**
 * Before conmon starts (nothing else writes): a log with something in it
 * becomes an older file, and conmon begins a new one (it counts from zero),
 * already linked as the newest PATH.N; PATH.tmp is made anew.
 */
export function rotateForStart(files: LogFiles, maxFile: number): void {
  unlinkQuietly(tmpOf(files));
  const size = lstatSync(files.path, { throwIfNoEntry: false })?.size;
  if (size && maxFile > 1) linkCurrentOnTop(files, scan(files, true));
  if (size !== undefined) unlinkSync(files.path);
  if (maxFile > 1) {
    const st = scan(files, true);
    pruneOld(st, maxFile - 1);
    linkSync(newEmpty(files, st), files.path);
  }
  keepConmonLog(files, maxFile);
}

interface Gen {
  seq: number;
  path: string;
  ino: number;
  mtimeNs: bigint;
}

interface State {
  current?: number; // PATH's inode
  tmp?: number; // PATH.tmp's inode
  /** Older files (not PATH, not an armed empty one), oldest first. */
  old: Gen[];
  /** PATH under its PATH.N name, when linked. */
  linked?: Gen;
  top: number;
}

const tmpOf = (files: LogFiles) => `${files.path}.tmp`;

/**
 * The files as they are, read again if conmon rotated meanwhile (PATH or
 * PATH.tmp another inode at the end than at the start): a file taken for
 * older that is PATH by then must not be pruned. `idle` (conmon not running):
 * an empty PATH.N nobody uses, left by a daemon stopped after arming, goes.
 */
function scan(files: LogFiles, idle = false): State {
  const ino = (p: string) => num(lstatSync(p, { bigint: true, throwIfNoEntry: false })?.ino);
  for (let tries = 0; ; tries++) {
    const st = scanOnce(files, ino(files.path), ino(tmpOf(files)), idle);
    if ((st.current === ino(files.path) && st.tmp === ino(tmpOf(files))) || tries === 4) {
      renumber(files, st);
      return st;
    }
  }
}

function scanOnce(files: LogFiles, current: number | undefined, tmp: number | undefined, idle: boolean): State {
  const st: State = { current, tmp, old: [], top: 0 };
  for (const seq of seqsIn(readdirSync(files.dir), basename(files.path))) {
    const path = files.gen(seq);
    const s = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    if (!s) continue;
    st.top = Math.max(st.top, seq);
    const g = { seq, path, ino: Number(s.ino), mtimeNs: s.mtimeNs };
    if (g.ino === st.current) st.linked = g;
    else if (s.size === 0n && g.ino !== st.tmp && idle) unlinkQuietly(path);
    else if (s.size > 0n || g.ino !== st.tmp) st.old.push(g); // an armed empty one is the next PATH, not an older file
  }
  // In the order written: a name conmon took up while no daemon watched sits out of place.
  st.old.sort((a, b) => (a.mtimeNs === b.mtimeNs ? a.seq - b.seq : a.mtimeNs < b.mtimeNs ? -1 : 1));
  return st;
}

const num = (v: bigint | undefined) => (v === undefined ? undefined : Number(v));

/** Older files whose numbers are out of their order (see scan) get new, higher ones. */
function renumber(files: LogFiles, st: State): void {
  for (let i = 1; i < st.old.length; i++) {
    if (st.old[i].seq > st.old[i - 1].seq) continue;
    const path = files.gen(++st.top);
    renameSync(st.old[i].path, path);
    Object.assign(st.old[i], { seq: st.top, path });
  }
}

/** PATH linked as the highest PATH.N: linked anew, or its name (the oldest one, taken up) moved up. */
function linkCurrentOnTop(files: LogFiles, st: State): void {
  const oldTop = Math.max(0, ...st.old.map((g) => g.seq));
  if (st.linked && st.linked.seq > oldTop) return;
  const to = files.gen(++st.top);
  try {
    if (st.linked) renameSync(st.linked.path, to);
    else linkSync(files.path, to);
  } catch (e) {
    // Replaced meanwhile: the next check links the new one.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** PATH.tmp for conmon's next rotation: the oldest file once there are enough, else a new empty one. */
function arm(files: LogFiles, st: State, maxFile: number): void {
  if (st.old.length >= maxFile - 1) {
    // Not a file a reader is still reading: conmon would rewrite it under the reader (then one file more, for a while).
    if (!isHeld(st.old[0].ino)) linkQuietly(st.old[0].path, tmpOf(files));
    return;
  }
  const next = newEmpty(files, st);
  if (!linkQuietly(next, tmpOf(files))) unlinkQuietly(next);
}

/** A new empty PATH.N above the others (one a keeper still finishing made meanwhile is stepped over). */
function newEmpty(files: LogFiles, st: State): string {
  for (;;) {
    const path = files.gen(++st.top);
    try {
      closeSync(openSync(path, 'wx', 0o600));
      return path;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

function pruneOld(st: State, keep: number): void {
  while (st.old.length > keep) unlinkQuietly(st.old.shift()!.path);
}

function linkQuietly(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch {
    return false; // conmon's own PATH.tmp is there (a rotation under way), or the file went
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}
