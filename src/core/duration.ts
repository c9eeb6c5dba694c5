import { invalid } from './errors.js';

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A Go duration as Compose and docker write them (`1m30s`, `500ms`, `2h`, `1.5s`),
 * or a bare number of seconds (Compose accepts `interval: 30`). Milliseconds out.
 */
export function parseDuration(input: string | number, what = 'duration'): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw invalid(`invalid ${what} ${input}: must be zero or more seconds`);
    return input * 1000;
  }
  const s = input.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m) throw invalid(`invalid ${what} "${input}": use a number with units h, m, s or ms (e.g. 1m30s)`);
    total += Number(m[1]) * UNIT_MS[m[2]];
    at = re.lastIndex;
  }
  if (!s.length || !Number.isFinite(total)) throw invalid(`invalid ${what} "${input}"`);
  return Math.round(total);
}

/** 90000 → `1m30s`, as Go prints durations (whole milliseconds). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}
