import { invalid } from './errors.js';

/**
 * Times as nanoseconds since the epoch (a bigint: log records carry
 * nanoseconds, more than a double holds), read the way docker reads
 * `logs --since/--until`:
 *
 *   10m, 1h30m, 1.5h, 300ms   a Go duration: that long before now
 *   1700000000, 1700000000.5  Unix seconds (up to nine decimals)
 *   2024-01-02T15:04:05.999999999+01:00, …Z, 2024-01-02T15:04, 2024-01-02
 *                             RFC 3339 and its shorter forms; without a zone, local time
 */
export function parseTimeArg(value: string, what: string, nowMs = Date.now()): bigint {
  const s = value.trim();
  const d = s === '0' ? undefined : parseGoDuration(s);
  if (d !== undefined) return BigInt(nowMs) * 1_000_000n - d;
  const unix = /^(\d+)(?:\.(\d{1,9}))?$/.exec(s);
  if (unix) return BigInt(unix[1]) * 1_000_000_000n + fraction(unix[2]);
  const t = parseRfc3339(s);
  if (t === undefined) throw invalid(`invalid ${what} "${value}": use an RFC 3339 time (2024-01-02T15:04:05Z), Unix seconds, or a duration before now (10m, 1h30m)`);
  return t;
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration: a signed sequence of decimal numbers, each with a unit. Nanoseconds out. */
export function parseGoDuration(s: string): bigint | undefined {
  const m = /^([+-]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(s);
  if (!m) return undefined;
  let ns = 0;
  for (const part of m[2].matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ns += Number(part[1]) * UNIT_NS[part[2]];
  if (!Number.isFinite(ns)) return undefined;
  const v = BigInt(Math.round(ns));
  return m[1] === '-' ? -v : v;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?([Zz]|[+-]\d{2}:\d{2})?$/;

/** An RFC 3339 time (or a shorter form of one) in nanoseconds; undefined if it is not one. */
export function parseRfc3339(s: string): bigint | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => Number(x ?? 0));
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return undefined;
  let ms: number;
  if (m[8] === undefined) ms = new Date(y, mo - 1, d, h, mi, sec).getTime();
  else ms = Date.UTC(y, mo - 1, d, h, mi, sec) - zoneOffsetMs(m[8]);
  if (!Number.isFinite(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + fraction(m[7]);
}

function zoneOffsetMs(z: string): number {
  if (z === 'Z' || z === 'z') return 0;
  const sign = z[0] === '-' ? -1 : 1;
  return sign * (Number(z.slice(1, 3)) * 60 + Number(z.slice(4, 6))) * 60_000;
}

/** `.5` → 500000000 ns. */
function fraction(digits: string | undefined): bigint {
  return digits ? BigInt(digits.padEnd(9, '0')) : 0n;
}
