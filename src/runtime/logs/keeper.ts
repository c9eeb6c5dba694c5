import { watch, type FSWatcher } from 'node:fs';
import { basename } from 'node:path';
import type { LogConfig } from '../../core/log-config.js';
import { keepConmonLog } from './conmon-rotation.js';
import { copyRotations } from './copy-rotation.js';
import { LogFiles } from './files.js';

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

/** The keepers of the logs written under this daemon, one per instance id. */
export class LogKeepers {
  private keepers = new Map<string, LogKeeper>();

  keep(id: string, path: string, policy: LogConfig, mode: 'conmon' | 'copy'): void {
    if (!this.keepers.has(id)) this.keepers.set(id, LogKeeper.start(path, policy, mode));
  }

  drop(id: string): void {
    this.keepers.get(id)?.stop();
    this.keepers.delete(id);
  }
}
