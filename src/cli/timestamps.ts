/**
 * docker's `--since` / `--until` values (cli/opts: GetTimestamp): a Go
 * duration before now (`10m`, `1h30m`, `1.5h`), an RFC 3339 time
 * (`2024-01-02T15:04:05Z`, `2024-01-02T15:04:05.5+01:00`), a local time
 * (`2024-01-02T15:04:05`, `2024-01-02`), or unix seconds (`1700000000.5`).
 * Unix seconds out, as docker's API takes them.
 */
export function parseTimeFlag(value: string, flag: string, now = Date.now()): string {
  const v = value.trim();
  if (v !== '0') {
    const d = parseGoDuration(v);
    if (d !== undefined) return seconds(now - d);
  }
  if (/^\d+(\.\d+)?$/.test(v)) return v;
  const ms = parseTime(v);
  if (ms === undefined) throw new Error(`invalid ${flag} "${value}": give a duration (10m, 1h30m), an RFC 3339 time or unix seconds`);
  return seconds(ms);
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** time.ParseDuration, in milliseconds; undefined if it is not one. */
export function parseGoDuration(s: string): number | undefined {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(s);
  if (!m) return undefined;
  let total = 0;
  for (const [, n, unit] of s.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(n) * UNIT_MS[unit];
  return m[1] === '-' ? -total : total;
}

function parseTime(v: string): number | undefined {
  // A date alone, or a time without a zone, is local time (as docker's parseInLocation).
  const local = !/[zZ+]/.test(v) && (v.match(/-/g) ?? []).length !== 3;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2}))?(?::(\d{2})(\.\d+)?)?)?(Z|z|[-+]\d{2}:?\d{2})?$/.exec(v);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  if (+mo < 1 || +mo > 12 || +d < 1 || +d > 31 || +h > 23 || +mi > 59 || +s > 60) return undefined;
  const ms = Math.round(Number(`0${frac}`) * 1000);
  if (local && !zone) return new Date(+y, +mo - 1, +d, +h, +mi, +s, ms).getTime();
  const utc = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, ms);
  if (!zone || zone.toLowerCase() === 'z') return utc;
  const z = /([-+])(\d{2}):?(\d{2})/.exec(zone)!;
  return utc - (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3])) * 60_000;
}
