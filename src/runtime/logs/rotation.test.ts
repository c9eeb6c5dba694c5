import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { appendFile, lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogConfig } from '../../core/log-config.js';
import { readRecords, type LogRecord } from '../oci/logs.js';
import { keepConmonLog, rotateForStart } from './conmon-rotation.js';
import { copyRotations } from './copy-rotation.js';
import { LogFiles } from './files.js';
import { FILE_END, readLog } from './reader.js';
import { RotatingLogWriter } from './writer.js';

const T = '2024-01-01T00:00:01.000000000+00:00';
const rec = (i: number) => `${T} stdout F line ${String(i).padStart(6, '0')}\n`;
const REC = rec(0).length;

/**
 * conmon 2.1's k8s-file writer, as ctr_logging.c does it: whole records
 * appended to PATH; when one would take the file past --log-size-max,
 * PATH.tmp is opened with O_CREAT|O_TRUNC and renamed over PATH.
 */
class FakeConmon {
  private fd: number;
  private written = 0;
  rotations = 0;
  constructor(
    private path: string,
    private max: number,
  ) {
    this.fd = openSync(path, 'a');
  }
  write(text: string): void {
    if (this.written + text.length > this.max) {
      closeSync(this.fd);
      this.fd = openSync(`${this.path}.tmp`, 'w');
      renameSync(`${this.path}.tmp`, this.path);
      this.written = 0;
      this.rotations++;
    }
    writeSync(this.fd, text);
    this.written += text.length;
  }
  close(): void {
    closeSync(this.fd);
  }
}

describe('log rotation', () => {
  let dir: string;
  let path: string;
  const policy = (maxSize: number, maxFile: number): LogConfig => ({ type: 'k8s-file', maxSize, maxFile });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hull-rot-'));
    path = join(dir, 'ctr.log');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Bytes and files on disk under PATH*, each inode once (hard links are one file); an empty file made ready for conmon is none. */
  const onDisk = async () => {
    const inodes = new Map<number, number>();
    for (const n of await readdir(dir)) if (n.startsWith('ctr.log')) {
      const st = await lstat(join(dir, n));
      if (st.size) inodes.set(st.ino, st.size);
    }
    return { files: inodes.size, bytes: [...inodes.values()].reduce((a, b) => a + b, 0) };
  };
  const lines = async () => {
    const out: string[] = [];
    for await (const b of readRecords(path)) out.push(...b.map((r) => r.data.trim()));
    return out;
  };
  const numbered = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${String(from + i).padStart(6, '0')}`);

  it("conmon's truncation becomes a rotation: maxFile files at most, the newest records all kept, in order", async () => {
    const max = 10 * REC;
    const c = new FakeConmon(path, max);
    const files = new LogFiles(path);
    let most = 0;
    for (let i = 0; i < 200; i++) {
      c.write(rec(i));
      most = Math.max(most, (await onDisk()).files);
      await keepConmonLog(files, 3); // the daemon keeps up (here: after every record)
      most = Math.max(most, (await onDisk()).files);
    }
    c.close();
    expect(c.rotations).toBe(19);
    expect(most).toBe(3);
    expect((await onDisk()).bytes).toBeLessThanOrEqual(3 * max);
    // Two full older files and the one being written: records 170..199, none missing or twice.
    expect(await lines()).toEqual(numbered(170, 200));
  });

  it('a daemon that falls behind costs one file of room and the files it missed; it puts the order right when back', async () => {
    const max = 10 * REC;
    const c = new FakeConmon(path, max);
    const files = new LogFiles(path);
    for (let i = 0; i < 40; i++) {
      c.write(rec(i));
      await keepConmonLog(files, 3);
    }
    // Down for five rotations: conmon's first uses the armed PATH.tmp, then it makes fresh files.
    for (let i = 40; i < 95; i++) {
      c.write(rec(i));
      expect((await onDisk()).files).toBeLessThanOrEqual(4);
    }
    await keepConmonLog(files, 3);
    expect((await onDisk()).files).toBeLessThanOrEqual(3);
    const got = await lines();
    expect(got.slice(-5)).toEqual(numbered(90, 95)); // the newest, in order
    expect([...got].sort()).toEqual(got); // and everything kept in order
    for (let i = 95; i < 140; i++) {
      c.write(rec(i));
      await keepConmonLog(files, 3);
    }
    c.close();
    expect(await lines()).toEqual(numbered(110, 140));
  });

  it('max-file 1: conmon truncates, nothing else kept', async () => {
    const c = new FakeConmon(path, 10 * REC);
    for (let i = 0; i < 25; i++) {
      c.write(rec(i));
      await keepConmonLog(new LogFiles(path), 1);
    }
    c.close();
    expect(await lines()).toEqual(numbered(20, 25));
    expect((await onDisk()).files).toBe(1);
  });

  it('before conmon starts, a log with records becomes an older file (conmon counts from zero) and a stale PATH.tmp goes', async () => {
    await writeFile(path, rec(0) + rec(1));
    await writeFile(`${path}.tmp`, 'stale');
    await rotateForStart(new LogFiles(path), 5);
    // ctr.log.1 the last run's; ctr.log (empty) linked as ctr.log.2; ctr.log.tmp linked to an empty ctr.log.3 for the first rotation.
    expect((await readdir(dir)).sort()).toEqual(['ctr.log', 'ctr.log.1', 'ctr.log.2', 'ctr.log.3', 'ctr.log.tmp']);
    expect(await readFile(`${path}.1`, 'utf8')).toBe(rec(0) + rec(1));
    expect((await lstat(path)).ino).toBe((await lstat(`${path}.2`)).ino);
    expect((await lstat(`${path}.tmp`)).ino).toBe((await lstat(`${path}.3`)).ino);
    await rotateForStart(new LogFiles(path), 5); // nothing written since: the same again
    expect((await readdir(dir)).sort()).toEqual(['ctr.log', 'ctr.log.1', 'ctr.log.4', 'ctr.log.5', 'ctr.log.tmp']);
    const c = new FakeConmon(path, 10 * REC);
    c.write(rec(2));
    c.close();
    expect(await lines()).toEqual(numbered(0, 3));
  });

  it('a follower sees every record once across conmon rotations, while the daemon keeps the files', async () => {
    const c = new FakeConmon(path, 8 * REC);
    const files = new LogFiles(path);
    const seen: LogRecord[] = [];
    const ac = new AbortController();
    let placed = false;
    const done = (async () => {
      for await (const b of readRecords(path, { follow: ac.signal })) {
        placed = true;
        seen.push(...b);
      }
    })();
    while (!placed) await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 300; i++) {
      c.write(rec(i));
      if (i % 5 === 0) await keepConmonLog(files, 4);
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 1)); // let the follower run between some writes
      // A follower more than maxFile files behind loses the files pruned meanwhile (as with docker): keep it within two.
      while (seen.length < i - 16) await new Promise((r) => setTimeout(r, 1));
    }
    ac.abort();
    await done;
    c.close();
    expect(c.rotations).toBeGreaterThan(30);
    const got = seen.map((r) => r.data.trim());
    expect(got).toEqual(numbered(0, 300));
  });

  it("the daemon's own writer rotates at maxSize and keeps maxFile files; a follower sees every record once", async () => {
    const w = new RotatingLogWriter(path, policy(10 * REC, 3));
    const seen: string[] = [];
    const ac = new AbortController();
    let placed = false;
    const done = (async () => {
      for await (const b of readRecords(path, { follow: ac.signal })) {
        placed = true;
        seen.push(...b.map((r) => r.data.trim()));
      }
    })();
    while (!placed) await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 100; i += 4) {
      w.write(rec(i) + rec(i + 1) + rec(i + 2) + rec(i + 3)); // a batch that straddles a rotation is split there
      expect((await onDisk()).bytes).toBeLessThanOrEqual(30 * REC);
      await new Promise((r) => setTimeout(r, 1));
    }
    w.close();
    ac.abort();
    await done;
    expect(seen).toEqual(numbered(0, 100));
    expect(await lines()).toEqual(numbered(70, 100));
    expect((await onDisk()).files).toBe(3);
  });

  it('copy rotation (QEMU): the last maxSize bytes move to PATH.N, PATH is emptied in place; a follower sees every byte once', async () => {
    const files = new LogFiles(path);
    const pol = policy(1000, 3);
    const seen: Buffer[] = [];
    const ac = new AbortController();
    let placed = false;
    const done = (async () => {
      for await (const c of readLog(path, { rotation: 'copy', partialLines: true, follow: ac.signal })) {
        placed = true;
        if (c !== FILE_END) seen.push(c);
      }
    })();
    while (!placed) await new Promise((r) => setTimeout(r, 5));
    let all = '';
    for (let i = 0; i < 300; i++) {
      const s = `console ${i} `;
      all += s;
      await appendFile(path, s); // QEMU's O_APPEND writes
      await copyRotations.rotateIfFull(files, pol);
      if (i % 9 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    ac.abort();
    await done;
    expect(Buffer.concat(seen).toString()).toBe(all);
    const kept = (await Promise.all((await files.seqs()).map((s) => readFile(files.gen(s), 'utf8')))).join('') + (await readFile(path, 'utf8'));
    expect(all.endsWith(kept)).toBe(true);
    expect((await onDisk()).files).toBeLessThanOrEqual(3);
    expect((await onDisk()).bytes).toBeLessThanOrEqual(3000);
    copyRotations.forget(path);
  });

  it('copy rotation keeps only the last maxSize bytes of a file that grew far past it (no daemon watched)', async () => {
    await writeFile(path, 'a'.repeat(5000) + 'tail');
    await copyRotations.rotateIfFull(new LogFiles(path), policy(1000, 2));
    expect(await readFile(`${path}.1`, 'utf8')).toBe('a'.repeat(996) + 'tail');
    expect(await readFile(path, 'utf8')).toBe('');
    copyRotations.forget(path);
  });
});
