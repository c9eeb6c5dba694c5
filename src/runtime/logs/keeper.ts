import { existsSync, watch, type FSWatcher } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LogConfig } from '../../core/log-config.js';
import { keepConmonLog } from './conmon-rotation.js';
import { copyRotations } from './copy-rotation.js';
import { LogFiles } from './files.js';
import { watchHeld } from './held.js';

/**
 * LogKeeper: the daemon's half of keeping a log within its policy while its
 * writer runs (files.ts says who rotates how).
 *
 *   conmon   after each of conmon's rotations, the links that make the next
 *            one keep the old file and drop the oldest (conmon-rotation.ts).
 *            conmon alone bounds PATH, so a daemon that is down or slow costs
 *            old files and one file of room, never an unbounded log.
 *   copy     PATH (QEMU's console) is copied aside and emptied once it
 *            reaches maxSize, checked on every change (at most every 50 ms)
 *            and every second.
 *
 * One inotify watch on the log's directory; the work is serialized and
 * coalesced, so a flood of writes costs a few checks, not one per write.
 *
 *   const k = LogKeeper.start(path, policy, 'conmon');
 *   k.stop();
 */
export class LogKeeper {
  private files: LogFiles;
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private stopped = false;
  private lastCopyCheck = 0;
  private later?: NodeJS.Timeout;

  private constructor(
    path: string,
    private policy: LogConfig,
    private mode: 'conmon' | 'copy',
  ) {
    this.files = new LogFiles(path);
  }

  static start(path: string, policy: LogConfig, mode: 'conmon' | 'copy'): LogKeeper {
    const k = new LogKeeper(path, policy, mode);
    const name = basename(path);
    try {
      k.watcher = watch(k.files.dir, (ev, f) => {
        // conmon: a new PATH is a rename; QEMU's writes are changes.
        if (f === name && (mode === 'copy' || ev === 'rename')) k.kick();
      });
      k.watcher.on('error', () => undefined);
      k.watcher.unref();
    } catch {
      // the timer below still keeps it
    }
    k.timer = setInterval(() => k.kick(true), 1000);
    k.timer.unref();
    k.kick(true);
    return k;
  }

  /** Run the check now, or once more after the one running; a copy check at most every 50 ms. */
  private kick(force = false): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const wait = this.mode === 'copy' && !force ? 50 - (Date.now() - this.lastCopyCheck) : 0;
    if (wait > 0) {
      this.later ??= setTimeout(() => {
        this.later = undefined;
        this.kick(true);
      }, wait).unref();
      return;
    }
    this.running = true;
    void this.check()
      .catch(() => undefined) // a failed check is retried on the next change or tick
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async check(): Promise<void> {
    if (this.mode === 'copy') {
      this.lastCopyCheck = Date.now();
      await copyRotations.rotateIfFull(this.files, this.policy);
      return;
    }
    keepConmonLog(this.files, this.policy.maxFile);
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    clearInterval(this.timer);
    clearTimeout(this.later);
  }
}

/**
 * The keepers of the logs written under this daemon, one per instance id.
 * conmon's keepers run on a worker thread (keeper-worker.ts): they must act
 * within one of conmon's rotations, which a main thread busy with readers
 * and requests can miss (measured: 70 ms late while it served a follow on a
 * loaded machine, with a rotation every 25 ms). QEMU's copy rotations stay
 * here: they share a lock with this thread's readers (copy-rotation.ts).
 * Where the compiled worker is absent (the tests run the TypeScript sources)
 * all keepers run in-process.
 */
export class LogKeepers {
  private local = new Map<string, LogKeeper>();
  private remote = new Map<string, KeepMessage>();

  constructor() {
    keeperWorker(() => this.rehome()); // started now: a worker takes a while to come up, conmon does not wait
  }

  keep(id: string, path: string, policy: LogConfig, mode: 'conmon' | 'copy'): void {
    if (this.local.has(id) || this.remote.has(id)) return;
    const w = mode === 'conmon' ? keeperWorker() : undefined;
    if (!w) return void this.local.set(id, LogKeeper.start(path, policy, mode));
    const m: KeepMessage = { op: 'keep', id, path, policy };
    this.remote.set(id, m);
    w.postMessage(m);
  }

  drop(id: string): void {
    this.local.get(id)?.stop();
    this.local.delete(id);
    if (this.remote.delete(id)) keeperWorker()?.postMessage({ op: 'drop', id });
  }

  /** Every log let go (daemon shutdown): their writers go on, the next daemon keeps them. */
  close(): void {
    for (const id of [...this.local.keys(), ...this.remote.keys()]) this.drop(id);
  }

  /** The worker is gone: its keepers go on here. */
  private rehome(): void {
    for (const m of this.remote.values()) this.local.set(m.id, LogKeeper.start(m.path, m.policy, 'conmon'));
    this.remote.clear();
  }
}

export type KeepMessage = { op: 'keep'; id: string; path: string; policy: LogConfig };
export type KeeperMessage = KeepMessage | { op: 'drop'; id: string } | { op: 'held'; ino: number; count: number };

const WORKER = new URL('./keeper-worker.js', import.meta.url);
let worker: Worker | null | undefined;
const onGone = new Set<() => void>();

/** The one keeper worker of this process, started on first use; undefined where it cannot run. */
function keeperWorker(gone?: () => void): Worker | undefined {
  if (gone) onGone.add(gone);
  if (worker !== undefined) return worker ?? undefined;
  if (!existsSync(fileURLToPath(WORKER))) return (worker = null) ?? undefined;
  const w = new Worker(WORKER);
  worker = w;
  w.unref();
  w.on('error', () => undefined);
  w.on('exit', () => {
    worker = null;
    for (const f of onGone) f();
  });
  watchHeld((ino, count) => worker?.postMessage({ op: 'held', ino, count } satisfies KeeperMessage));
  return w;
}
