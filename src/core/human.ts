/**
 * Durations and sizes as docker prints them (github.com/docker/go-units):
 * `Up 2 minutes`, `About a minute ago`, `4.26MB`, `1.5MiB`.
 */

/** units.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** `X ago` from an ISO time, as docker's CREATED and Exited columns print it. */
export function humanAgo(iso: string, now = Date.now()): string {
  return `${humanDuration(Math.max(0, now - Date.parse(iso)))} ago`;
}

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function scaled(size: number, base: number, units: string[], precision: number): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return `${goG(size, precision)}${units[i]}`;
}

/** Go's `%.{p}g`: p significant digits, trailing zeros dropped. */
function goG(n: number, p: number): string {
  if (n === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= p) {
    const [m, e] = n.toExponential(p - 1).split('e');
    return `${m.includes('.') ? m.replace(/\.?0+$/, '') : m}e${e.replace(/^([+-])(\d)$/, '$10$2')}`;
  }
  return String(Number(n.toPrecision(p)));
}

/** units.HumanSizeWithPrecision: decimal units (`4.26MB` at precision 3). */
export const humanSize = (bytes: number, precision = 3): string => scaled(bytes, 1000, DECIMAL, precision);

/** units.BytesSize: binary units, 4 significant digits (`1.5MiB`), as `docker stats` prints memory. */
export const bytesSize = (bytes: number): string => scaled(bytes, 1024, BINARY, 4);
