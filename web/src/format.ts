import type { PortMapping } from './types.js';

/** How long ago an RFC 3339 time was: "5 seconds ago", "3 hours ago"; "" for none. */
export function ago(time: string, now = Date.now()): string {
  const t = Date.parse(time);
  if (!time || Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  const [n, unit] = s < 60 ? [s, 'second'] : s < 3600 ? [Math.floor(s / 60), 'minute'] : s < 86400 ? [Math.floor(s / 3600), 'hour'] : [Math.floor(s / 86400), 'day'];
  return `${n} ${unit}${n === 1 ? '' : 's'} ago`;
}

export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export const port = (p: PortMapping): string => `${p.hostIp || '0.0.0.0'}:${p.hostPort}→${p.containerPort}/${p.protocol}`;

export const ports = (list: PortMapping[] | undefined): string => (list ?? []).map(port).join(', ');

export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

/**
 * The colour class of a status: running green, paused amber, exited grey,
 * a failure (non-zero exit, unhealthy, an error) red. An exit the user
 * asked for (`stopped`: stop, kill) is grey whatever its code: a container
 * that ignores SIGTERM exits 137 at the stop timeout.
 */
export function statusClass(status: string, exitCode = 0, health = '', stopped = false): string {
  if (health === 'unhealthy' || (status === 'exited' && exitCode !== 0 && !stopped)) return 'st st-failed';
  if (status === 'running') return 'st st-running';
  if (status === 'paused' || status === 'restarting' || health === 'starting') return 'st st-paused';
  return 'st st-exited';
}

export function statusText(status: string, exitCode = 0, health = ''): string {
  const base = status === 'exited' ? `exited (${exitCode})` : status;
  return health ? `${base} (${health})` : base;
}

/** A command's words as a shell would read them back: words with spaces or quotes are quoted. */
export const shellJoin = (words: string[]): string =>
  words.map((w) => (w === '' || /[\s'"\\$`]/.test(w) ? `'${w.replace(/'/g, `'\\''`)}'` : w)).join(' ');
