import { parseRfc3339 } from '../../core/timestamps.js';
import { FILE_END, readLog, type LogChunk } from '../logs/reader.js';
import type { Judgement } from '../logs/scan.js';

/**
 * conmon's k8s-file log: one line per record,
 *   2024-01-01T00:00:00.000000000+00:00 stdout F hello
 * where F is a full line and P a partial one (no newline at its end). The
 * daemon writes VM-isolated containers' logs in the same format.
 */
export interface LogRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  data: string; // with its newline if the record was a full line
}

export function parseLogLine(line: string): LogRecord | undefined {
  const a = line.indexOf(' ');
  const b = line.indexOf(' ', a + 1);
  const c = line.indexOf(' ', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  const stream = line.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = line.slice(b + 1, c);
  const text = line.slice(c + 1);
  return { time: line.slice(0, a), stream, data: tag === 'P' ? text : `${text}\n` };
}

/** Which records, from where; times in nanoseconds (core/timestamps.ts). */
export interface LogQuery {
  /** The last N lines (after since/until; a line conmon split into partial records is one); absent: all. */
  tail?: number;
  /** Records at or after. */
  since?: bigint;
  /** Records at or before; the read (and a follow) ends at the first record after. */
  until?: bigint;
  /** Go on with new records until this aborts (or `until` is reached). */
  follow?: AbortSignal;
}

/**
 * A container's log records, oldest first, in batches as they are read:
 * the tail is found reading backwards from the end, the rest streams (never
 * the whole log in memory), and a follow goes on across rotations.
 */
export async function* readRecords(path: string, q: LogQuery = {}): AsyncGenerator<LogRecord[]> {
  const until = untilTimer(q);
  const judge = recordJudge(q);
  const chunks = readLog(path, { rotation: 'rename', tail: q.tail, judge, since: q.since !== undefined, follow: until.signal });
  try {
    yield* recordsOf(chunks, q);
  } finally {
    until.clear();
    await chunks.return(undefined);
  }
}

async function* recordsOf(chunks: AsyncGenerator<LogChunk>, q: LogQuery): AsyncGenerator<LogRecord[]> {
  let carry = Buffer.alloc(0);
  for await (const c of chunks) {
    // A record cut at a file's end is not continued in the next file.
    if (c === FILE_END) {
      carry = Buffer.alloc(0);
      continue;
    }
    if (!c.length) {
      yield [];
      continue;
    }
    const buf = carry.length ? Buffer.concat([carry, c]) : c;
    const end = buf.lastIndexOf(0x0a) + 1;
    carry = Buffer.from(buf.subarray(end));
    // Whole lines only: a newline never sits inside a UTF-8 character, so the text decodes whole.
    const out: LogRecord[] = [];
    for (const line of buf.toString('utf8', 0, end).split('\n')) {
      const r = line ? parseLogLine(line) : undefined;
      if (!r) continue;
      const t = q.since !== undefined || q.until !== undefined ? parseRfc3339(r.time) : undefined;
      if (t !== undefined && q.since !== undefined && t < q.since) continue;
      if (t !== undefined && q.until !== undefined && t > q.until) {
        if (out.length) yield out;
        return;
      }
      out.push(r);
    }
    if (out.length) yield out;
  }
}

/**
 * For the tail, which counts lines: a full record (F) is one, a partial one
 * (P: conmon splits a long or unfinished line) goes with the line it begins;
 * a record after `until` is passed over, one before `since` ends the search.
 */
function recordJudge(q: LogQuery): (line: Buffer) => Judgement {
  return (line) => {
    const r = parseLogLine(line.toString());
    if (!r) return 'skip';
    const whole = r.data.endsWith('\n') ? 'count' : 'part';
    if (q.since === undefined && q.until === undefined) return whole;
    const t = parseRfc3339(r.time);
    if (t === undefined) return 'skip';
    if (q.until !== undefined && t > q.until) return 'skip';
    return q.since !== undefined && t < q.since ? 'stop' : whole;
  };
}

/** A follow with `until` ends when that time comes, records or not. */
function untilTimer(q: LogQuery): { signal?: AbortSignal; clear: () => void } {
  if (!q.follow || q.until === undefined) return { signal: q.follow, clear: () => undefined };
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  q.follow.addEventListener('abort', onAbort);
  if (q.follow.aborted) ac.abort();
  const ms = Number(q.until / 1_000_000n) - Date.now();
  // Past what a timer holds (24 days), the follow ends with the container or the client.
  const timer = ms < 2 ** 31 ? setTimeout(onAbort, Math.max(0, ms)) : undefined;
  return {
    signal: ac.signal,
    clear: () => {
      clearTimeout(timer);
      q.follow!.removeEventListener('abort', onAbort);
    },
  };
}
