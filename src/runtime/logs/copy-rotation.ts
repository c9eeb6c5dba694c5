import { open, rename, rm, stat, truncate } from 'node:fs/promises';
import { KeyedLock } from '../../core/keyed-lock.js';
import type { LogConfig } from '../../core/log-config.js';
import type { LogFiles } from './files.js';

/** One rotation: PATH's bytes from `base` on went to PATH.`seq`. */
export interface CopyRotation {
  seq: number;
  base: number;
}

/**
 * Rotation by copy and truncate, for a log whose writer cannot reopen it:
 * QEMU appends a VM's console to its log (O_APPEND) for as long as it runs.
 * Once PATH has reached maxSize it is copied to the next PATH.N (only its
 * last maxSize bytes if it grew past 1.25 × maxSize, as when no daemon
 * watched) and emptied in place; QEMU's next write lands at its new end.
 * Bytes QEMU writes between the copy and the truncation (microseconds) are
 * lost.
 *
 * Readers in this process follow PATH across a rotation exactly (reader.ts):
 * a rotation and a follower's read of PATH hold the same per-path lock, and
 * each rotation is counted, so a follower at offset P of PATH knows that its
 * rest is in PATH.N from P - base.
 */
class CopyRotations {
  private lock = new KeyedLock();
  private counts = new Map<string, number>();
  private history = new Map<string, CopyRotation[]>();

  count(path: string): number {
    return this.counts.get(path) ?? 0;
  }

  /** The rotations after the `n`th, oldest first (the last 16 are remembered). */
  after(path: string, n: number): CopyRotation[] {
    const h = this.history.get(path) ?? [];
    return h.slice(Math.max(0, h.length - (this.count(path) - n)));
  }

  run<T>(path: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(path, fn);
  }

  /** Rotate when PATH has reached maxSize; true if it did. */
  rotateIfFull(files: LogFiles, policy: LogConfig): Promise<boolean> {
    return this.run(files.path, async () => {
      const size = (await stat(files.path).catch(() => undefined))?.size ?? 0;
      if (size < policy.maxSize) return false;
      await this.rotateLocked(files, policy, size);
      return true;
    });
  }

  private async rotateLocked(files: LogFiles, policy: LogConfig, size: number): Promise<void> {
    const seq = await files.nextSeq();
    const tmp = `${files.path}.rotating`;
    // A file grown far past the limit (while no daemon watched) keeps its last maxSize bytes; one just past it, all.
    const base = size > policy.maxSize * 1.25 ? size - policy.maxSize : 0;
    await copyRange(files.path, tmp, base, Math.floor(policy.maxSize * 1.25) + 1024 * 1024);
    await truncate(files.path, 0);
    await rename(tmp, files.gen(seq));
    this.counts.set(files.path, this.count(files.path) + 1);
    this.history.set(files.path, [...(this.history.get(files.path) ?? []), { seq, base }].slice(-16));
    await files.prune(policy.maxFile);
  }

  /** Forget a log's counts (its instance is gone). */
  forget(path: string): void {
    this.counts.delete(path);
    this.history.delete(path);
  }
}

export const copyRotations = new CopyRotations();

/** Copy `src` from `from` to its end (as it is when the copy finishes, at most `max` bytes) into a new `dst`. */
async function copyRange(src: string, dst: string, from: number, max: number): Promise<void> {
  await rm(dst, { force: true });
  const [r, w] = [await open(src, 'r'), await open(dst, 'wx', 0o600)];
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (let pos = from; pos < from + max; ) {
      const { bytesRead } = await r.read(buf, 0, Math.min(buf.length, from + max - pos), pos);
      if (!bytesRead) break;
      await w.write(buf, 0, bytesRead);
      pos += bytesRead;
    }
  } finally {
    await Promise.all([r.close(), w.close()]);
  }
}
