import { closeSync, fstatSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import type { LogConfig } from '../../core/log-config.js';
import { LogFiles, seqsIn } from './files.js';

/**
 * A log the daemon writes itself (a VM-isolated container's output), rotated
 * as docker's `local` driver does: a record that would take PATH past
 * maxSize goes to a new PATH after PATH is closed and renamed to the next
 * PATH.N, and only maxFile files are kept. Writes are synchronous: each
 * record is on disk (in the page cache) before the next is taken, and a
 * rotation happens between two records, with PATH closed first, so a reader
 * following PATH (reader.ts) misses nothing.
 *
 * Write errors (a full disk) drop the record; the next write tries again.
 */
export class RotatingLogWriter {
  private files: LogFiles;
  private fd?: number;
  private size = 0;

  constructor(
    readonly path: string,
    private policy: LogConfig,
  ) {
    this.files = new LogFiles(path);
  }

  /** Whole records (each ending in a newline). */
  write(records: string): void {
    const b = Buffer.from(records);
    for (let from = 0; from < b.length; ) {
      let end = b.length;
      // The common case is one write; record by record only where a rotation falls.
      if (this.size + (end - from) > this.policy.maxSize) end = b.indexOf(0x0a, from) + 1 || b.length;
      this.writeRecords(b.subarray(from, end));
      from = end;
    }
  }

  private writeRecords(b: Buffer): void {
    try {
      if (this.size > 0 && this.size + b.length > this.policy.maxSize) this.rotate();
      this.open();
      writeSync(this.fd!, b);
      this.size += b.length;
    } catch {
      this.closeFd();
    }
  }

  private open(): void {
    if (this.fd !== undefined) return;
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }

  private rotate(): void {
    this.closeFd();
    const seqs = seqsIn(readdirSync(this.files.dir), basename(this.path));
    try {
      renameSync(this.path, this.files.gen((seqs.at(-1) ?? 0) + 1));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // gone (removed by hand): a new one begins
    }
    const old = seqsIn(readdirSync(this.files.dir), basename(this.path));
    for (const seq of old.slice(0, Math.max(0, old.length - (this.policy.maxFile - 1)))) unlinkSync(this.files.gen(seq));
    this.size = 0;
  }

  private closeFd(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  close(): void {
    this.closeFd();
  }
}
