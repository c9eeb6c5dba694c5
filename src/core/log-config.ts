import { invalid } from './errors.js';
import { parseSize } from './units.js';

/**
 * How an instance's log is kept on disk, as docker's `local` driver keeps it:
 * the file being written grows to `maxSize` bytes, then it is rotated and a
 * new one begun; `maxFile` files are kept, the current one included, so a
 * log never takes more than about maxSize × maxFile (the oldest file goes).
 * The records are conmon's k8s-file lines (a VM's console log is raw text).
 */
export interface LogConfig {
  type: 'k8s-file';
  maxSize: number;
  maxFile: number;
}

/** docker's `local` driver: 20 MB × 5 files (Hull keeps them uncompressed). */
export const DEFAULT_LOG_CONFIG: LogConfig = { type: 'k8s-file', maxSize: 20 * 1024 * 1024, maxFile: 5 };

/** conmon writes a record of up to 8 KiB whole: a file must hold at least two. */
export const MIN_LOG_SIZE = 16 * 1024;
export const MAX_LOG_FILES = 1000;

export type LogOpts = Partial<Pick<LogConfig, 'maxSize' | 'maxFile'>>;

/** `--log-opt max-size=10m --log-opt max-file=3`: docker's names and units. */
export function parseLogOpts(opts: string[]): LogOpts {
  const o: LogOpts = {};
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    const [k, v] = eq < 0 ? [opt, ''] : [opt.slice(0, eq), opt.slice(eq + 1)];
    if (k === 'max-size') o.maxSize = logSize(v);
    else if (k === 'max-file') o.maxFile = logFiles(v);
    // Rotated files are kept as they are; saying so is not an error.
    else if (k === 'compress' && v === 'false') continue;
    else if (k === 'compress') throw invalid(`--log-opt compress=${v} is not supported: rotated log files are kept uncompressed`);
    else throw invalid(`unknown --log-opt "${opt}": use max-size=SIZE or max-file=N`);
  }
  return o;
}

function logSize(v: string): number {
  const n = parseSize(v);
  if (n < MIN_LOG_SIZE) throw invalid(`--log-opt max-size=${v} is too small: the minimum is 16k`);
  return n;
}

function logFiles(v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= MAX_LOG_FILES)) throw invalid(`invalid --log-opt max-file=${v}: a whole number from 1 to ${MAX_LOG_FILES}`);
  return n;
}

/** What an instance gets: what it asked for, the rest from the daemon's default. */
export function withLogDefaults(asked: LogOpts | undefined, defaults: LogConfig = DEFAULT_LOG_CONFIG): LogConfig {
  return { type: 'k8s-file', maxSize: asked?.maxSize ?? defaults.maxSize, maxFile: asked?.maxFile ?? defaults.maxFile };
}
