import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRfc3339 } from '../../core/timestamps.js';
import { parseLogLine, readRecords, type LogQuery, type LogRecord } from './logs.js';

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

describe('readRecords', () => {
  let dir: string;
  let path: string;
  const line = (t: string, stream: string, text: string, tag = 'F') => `${t} ${stream} ${tag} ${text}\n`;
  const all = async (q: LogQuery = {}) => {
    const out: LogRecord[] = [];
    for await (const batch of readRecords(path, q)) out.push(...batch);
    return out;
  };
  const data = async (q: LogQuery = {}) => (await all(q)).map((r) => r.data.trim());

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hull-logs-'));
    path = join(dir, 'ctr.log');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads nothing from a log that does not exist yet', async () => {
    expect(await all()).toEqual([]);
    expect(await all({ tail: 3 })).toEqual([]);
  });

  it('reads every complete record; one still being written is left for a follower', async () => {
    const complete = line(T1, 'stdout', 'héllo') + line(T2, 'stderr', 'oops') + line(T3, 'stdout', 'part', 'P');
    await writeFile(path, `${complete}${T4} stdout F being writ`);
    const rs = await all();
    expect(rs.map((r) => r.data)).toEqual(['héllo\n', 'oops\n', 'part']);
    expect(rs.map((r) => r.stream)).toEqual(['stdout', 'stderr', 'stdout']);
    expect((await all({ tail: 1 })).map((r) => r.data)).toEqual(['part']);
  });

  it('counts lines for the tail: a line conmon split into partial records is one, its parts all shown', async () => {
    await writeFile(path, line(T1, 'stdout', 'one') + line(T1, 'stdout', 'tw', 'P') + line(T1, 'stdout', 'o', 'P') + line(T2, 'stdout', '!') + line(T3, 'stdout', 'thr', 'P'));
    expect((await all({ tail: 1 })).map((r) => r.data)).toEqual(['thr']); // the last line, not finished yet
    expect((await all({ tail: 2 })).map((r) => r.data)).toEqual(['tw', 'o', '!\n', 'thr']);
    expect((await all({ tail: 3 })).map((r) => r.data)).toEqual(['one\n', 'tw', 'o', '!\n', 'thr']);
  });

  it('takes the last N records with tail, records at or after since, at or before until', async () => {
    await writeFile(path, [T1, T2, T3, T4].map((t, i) => line(t, 'stdout', `r${i + 1}`)).join(''));
    const t = (s: string) => parseRfc3339(s)!;
    expect(await data({ tail: 2 })).toEqual(['r3', 'r4']);
    expect(await data({ tail: 0 })).toEqual([]);
    expect(await data({ tail: 10 })).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(await data({ since: t(T2) })).toEqual(['r2', 'r3', 'r4']);
    expect(await data({ since: t(T2), tail: 1 })).toEqual(['r4']);
    expect(await data({ since: t(T3), tail: 5 })).toEqual(['r3', 'r4']);
    expect(await data({ until: t(T2) })).toEqual(['r1', 'r2']);
    // The tail counts what since/until let through.
    expect(await data({ until: t(T3), tail: 1 })).toEqual(['r3']);
    expect(await data({ since: t(T2), until: t(T3) })).toEqual(['r2', 'r3']);
    expect(await data({ since: t('2025-01-01T00:00:00Z') })).toEqual([]);
    expect(await data({ since: t(T2) + 1n })).toEqual(['r3', 'r4']); // nanosecond precision
  });

  it('reads across rotated files, oldest first, and finds a tail in older files reading backwards', async () => {
    await writeFile(`${path}.7`, line(T1, 'stdout', 'a') + line(T1, 'stdout', 'b'));
    await writeFile(`${path}.12`, line(T2, 'stdout', 'c'));
    await writeFile(path, line(T3, 'stdout', 'd') + line(T4, 'stderr', 'e'));
    await writeFile(`${path}.tmp`, line(T1, 'stdout', 'not a rotated file'));
    expect(await data()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await data({ tail: 4 })).toEqual(['b', 'c', 'd', 'e']);
    expect(await data({ since: parseRfc3339(T2) })).toEqual(['c', 'd', 'e']);
  });

  it('says when the log cannot be read, instead of reading nothing', async () => {
    await mkdir(path);
    await expect(all()).rejects.toThrow(/not a regular file/);
  });

  it('reads a log larger than a string can hold, a piece at a time', async () => {
    // 1.2 GiB would be the real case (readFile fails past 512 MiB); what matters is that no read takes it whole.
    const rec = line(T1, 'stdout', 'x'.repeat(200));
    await writeFile(path, rec.repeat(20_000) + line(T2, 'stdout', 'last'));
    let batches = 0;
    let count = 0;
    for await (const b of readRecords(path)) {
      batches++;
      count += b.length;
    }
    expect(count).toBe(20_001);
    expect(batches).toBeGreaterThan(3); // 4.6 MB in chunks of at most 256 KiB
    expect(await data({ tail: 1 })).toEqual(['last']);
  });

  it('without follow, reads the log as far as it was written when the read began, however fast it grows', async () => {
    await writeFile(path, line(T1, 'stdout', 'x').repeat(1000));
    let n = 0;
    for await (const b of readRecords(path)) {
      n += b.length;
      await appendFile(path, line(T2, 'stdout', 'y').repeat(50_000)); // faster than the reader
    }
    expect(n).toBe(1000);
  });

  const until = async (cond: () => boolean, ms = 5000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out waiting');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('follows appended records, whole lines only, until aborted, then reads what is left', async () => {
    await writeFile(path, line(T1, 'stdout', 'old'));
    const seen: LogRecord[] = [];
    const ac = new AbortController();
    let placed = false; // the first batch (empty) says the reader has opened the log and found its start
    const done = (async () => {
      for await (const b of readRecords(path, { tail: 0, follow: ac.signal })) {
        placed = true;
        seen.push(...b);
      }
    })();
    await until(() => placed);
    await appendFile(path, line(T2, 'stdout', 'new'));
    await until(() => seen.length === 1);
    expect(seen[0]).toEqual({ time: T2, stream: 'stdout', data: 'new\n' });
    // A line written in two pieces is one record.
    await appendFile(path, `${T3} stderr F hal`);
    await new Promise((r) => setTimeout(r, 50));
    await appendFile(path, 'ves\n');
    await until(() => seen.length === 2);
    expect(seen[1]).toEqual({ time: T3, stream: 'stderr', data: 'halves\n' });
    await appendFile(path, line(T4, 'stdout', 'last'));
    ac.abort();
    await done;
    expect(seen.map((r) => r.data)).toEqual(['new\n', 'halves\n', 'last\n']);
  });

  it('follows a log that does not exist yet once it appears', async () => {
    const seen: LogRecord[] = [];
    const ac = new AbortController();
    const done = (async () => {
      for await (const b of readRecords(path, { follow: ac.signal })) seen.push(...b);
    })();
    await new Promise((r) => setTimeout(r, 50));
    await writeFile(path, line(T1, 'stdout', 'first'));
    await until(() => seen.length === 1, 3000);
    ac.abort();
    await done;
    expect(seen[0].data).toBe('first\n');
  });

  it('ends a follow at the first record after until', async () => {
    await writeFile(path, line(T1, 'stdout', 'a'));
    const seen: string[] = [];
    const ac = new AbortController();
    const done = (async () => {
      for await (const b of readRecords(path, { until: parseRfc3339(T2), follow: ac.signal })) seen.push(...b.map((r) => r.data.trim()));
    })();
    await appendFile(path, line(T2, 'stdout', 'b') + line(T3, 'stdout', 'c') + line(T1, 'stdout', 'never'));
    await done; // ends by itself
    expect(seen).toEqual(['a', 'b']);
  });
});
