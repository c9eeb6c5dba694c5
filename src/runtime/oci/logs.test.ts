import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { followLog, parseLogLine, readLog, type LogRecord } from './logs.js';

const T1 = '2024-01-01T00:00:01.000000000+00:00';
const T2 = '2024-01-01T00:00:02.000000000+00:00';
const T3 = '2024-01-01T00:00:03.000000000+00:00';
const T4 = '2024-01-01T00:00:04.000000000+00:00';

describe('parseLogLine', () => {
  it('reads a full line (F) with its newline restored', () => {
    expect(parseLogLine(`${T1} stdout F hello world`)).toEqual({ time: T1, stream: 'stdout', data: 'hello world\n' });
  });

  it('reads a partial line (P) without a newline', () => {
    expect(parseLogLine(`${T1} stderr P no newline yet`)).toEqual({ time: T1, stream: 'stderr', data: 'no newline yet' });
  });

  it('keeps the text as it is: empty, leading spaces, the separator itself', () => {
    expect(parseLogLine(`${T1} stdout F `)).toEqual({ time: T1, stream: 'stdout', data: '\n' });
    expect(parseLogLine(`${T1} stdout F   indented  `)?.data).toBe('  indented  \n');
    expect(parseLogLine(`${T1} stdout F a stdout F b`)?.data).toBe('a stdout F b\n');
  });

  it.each(['', 'garbage', `${T1} stdout`, `${T1} stdout F`, `${T1} stdin F hi`, `${T1}  F hi`])('ignores %j', (line) => {
    expect(parseLogLine(line)).toBeUndefined();
  });
});

describe('readLog and followLog', () => {
  let dir: string;
  let path: string;
  const line = (t: string, stream: string, text: string, tag = 'F') => `${t} ${stream} ${tag} ${text}\n`;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hull-logs-'));
    path = join(dir, 'ctr.log');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads nothing from a log that does not exist yet', async () => {
    expect(await readLog(path)).toEqual({ records: [], offset: 0 });
  });

  it('reads every complete record, and an offset in bytes past the last one', async () => {
    const complete = line(T1, 'stdout', 'héllo') + line(T2, 'stderr', 'oops') + line(T3, 'stdout', 'part', 'P');
    await writeFile(path, `${complete}${T4} stdout F being writ`);
    const { records, offset } = await readLog(path);
    expect(records.map((r) => r.data)).toEqual(['héllo\n', 'oops\n', 'part']);
    expect(records.map((r) => r.stream)).toEqual(['stdout', 'stderr', 'stdout']);
    expect(offset).toBe(Buffer.byteLength(complete));
  });

  it('takes the last N records with tail, and records at or after a time with since', async () => {
    await writeFile(path, [T1, T2, T3, T4].map((t, i) => line(t, 'stdout', `r${i + 1}`)).join(''));
    const data = async (o: { tail?: number; since?: string }) => (await readLog(path, o)).records.map((r) => r.data.trim());
    expect(await data({ tail: 2 })).toEqual(['r3', 'r4']);
    expect(await data({ tail: 0 })).toEqual([]);
    expect(await data({ tail: 10 })).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(await data({ tail: -1 })).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(await data({ since: T2 })).toEqual(['r2', 'r3', 'r4']);
    expect(await data({ since: T2, tail: 1 })).toEqual(['r4']);
    expect(await data({ since: '2025-01-01T00:00:00.000000000+00:00' })).toEqual([]);
    // The offset still points past everything read, whatever was filtered out.
    expect((await readLog(path, { tail: 1 })).offset).toBe((await readFile(path)).length);
  });

  const until = async (cond: () => boolean, ms = 5000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out waiting');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('follows appended records from an offset, whole lines only, until stopped', async () => {
    await writeFile(path, line(T1, 'stdout', 'old'));
    const { offset } = await readLog(path);
    const seen: LogRecord[] = [];
    const f = followLog(path, offset, (r) => seen.push(r));
    await appendFile(path, line(T2, 'stdout', 'new'));
    await until(() => seen.length === 1);
    expect(seen[0]).toEqual({ time: T2, stream: 'stdout', data: 'new\n' });

    // A line written in two pieces is one record.
    await appendFile(path, `${T3} stderr F hal`);
    await new Promise((r) => setTimeout(r, 50));
    await appendFile(path, 'ves\n');
    await until(() => seen.length === 2);
    expect(seen[1]).toEqual({ time: T3, stream: 'stderr', data: 'halves\n' });

    // stop() reads what was written before it, then nothing more.
    await appendFile(path, line(T4, 'stdout', 'last'));
    await f.stop();
    expect(seen.map((r) => r.data)).toEqual(['new\n', 'halves\n', 'last\n']);
    await appendFile(path, line(T4, 'stdout', 'after stop'));
    await new Promise((r) => setTimeout(r, 600));
    expect(seen).toHaveLength(3);
  });

  it('follows a log that does not exist yet once it appears', async () => {
    const seen: LogRecord[] = [];
    const f = followLog(path, 0, (r) => seen.push(r));
    await writeFile(path, line(T1, 'stdout', 'first'));
    await until(() => seen.length === 1, 3000);
    await f.stop();
    expect(seen[0].data).toBe('first\n');
  });
});
