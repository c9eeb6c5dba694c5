import { invalid } from '../../core/errors.js';
import { createReadStream } from 'node:fs';
import { stat, readFile } from 'node:fs/promises';
import { watch } from 'node:fs';

/**
 * conmon's k8s-file log: one line per record,
 *   2024-01-01T00:00:00.000000000+00:00 stdout F hello
 * where F is a full line and P a partial one (no newline at its end).
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

export interface ReadLogOptions {
  tail?: number; // last N records; undefined = all
  since?: string; // RFC 3339: records at or after
}

/** `--since`: RFC 3339 or Unix seconds (docker accepts both). */
export function parseSince(s: string): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw invalid(`invalid since "${s}": use an RFC 3339 time or Unix seconds`);
  return t;
}

export async function readLog(path: string, opts: ReadLogOptions = {}): Promise<{ records: LogRecord[]; offset: number }> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { records: [], offset: 0 };
  }
  // Only complete lines; a line being written stays for the follower.
  const end = text.lastIndexOf('\n') + 1;
  let records = text
    .slice(0, end)
    .split('\n')
    .map(parseLogLine)
    .filter((r): r is LogRecord => !!r);
  if (opts.since) {
    const since = parseSince(opts.since);
    records = records.filter((r) => Date.parse(r.time) >= since);
  }
  if (opts.tail !== undefined && opts.tail >= 0) records = records.slice(Math.max(0, records.length - opts.tail));
  return { records, offset: Buffer.byteLength(text.slice(0, end)) };
}

/**
 * Follow a log from a byte offset: calls onRecord for each new record until
 * stop() is called. Uses inotify (fs.watch) with a slow poll as a safety net.
 */
export function followLog(path: string, offset: number, onRecord: (r: LogRecord) => void): { stop: () => Promise<void> } {
  let pos = offset;
  let pending = Buffer.alloc(0);
  let reading: Promise<void> = Promise.resolve();
  let stopped = false;
  const readMore = () => {
    reading = reading.then(async () => {
      const st = await stat(path).catch(() => undefined);
      if (!st || st.size <= pos) return;
      await new Promise<void>((resolve) => {
        const s = createReadStream(path, { start: pos, end: st.size - 1 });
        s.on('data', (b: Buffer | string) => {
          const buf = typeof b === 'string' ? Buffer.from(b) : b;
          pos += buf.length;
          // Split on bytes, decode whole lines: a UTF-8 character may straddle two reads.
          pending = Buffer.concat([pending, buf]);
          let nl: number;
          while ((nl = pending.indexOf(0x0a)) >= 0) {
            const r = parseLogLine(pending.subarray(0, nl).toString());
            pending = pending.subarray(nl + 1);
            if (r) onRecord(r);
          }
        });
        s.on('close', () => resolve());
        s.on('error', () => resolve());
      });
    });
  };
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(path, () => !stopped && readMore());
  } catch {
    /* the poll below still works */
  }
  const poll = setInterval(readMore, 500);
  readMore();
  return {
    stop: async () => {
      stopped = true;
      watcher?.close();
      clearInterval(poll);
      readMore(); // flush what was written before the stop
      await reading;
    },
  };
}
