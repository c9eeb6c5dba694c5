import { invalid } from './errors.js';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Parse a docker-style size: `64m`, `1g`, `512k`, `1048576`, `1.5g`. Bytes out. */
export function parseSize(input: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$/i.exec(input.trim());
  if (!m) throw invalid(`invalid size "${input}": use a number with an optional unit b, k, m, g (e.g. 64m)`);
  const n = Math.floor(parseFloat(m[1]) * UNITS[m[2].toLowerCase()]);
  if (!Number.isFinite(n) || n <= 0) throw invalid(`invalid size "${input}": must be greater than zero`);
  return n;
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}

/** Parse `--cpus 0.5` into a positive number of CPUs. */
export function parseCpus(input: string | number): number {
  const n = typeof input === 'number' ? input : Number(input);
  if (!Number.isFinite(n) || n <= 0) throw invalid(`invalid --cpus "${input}": must be a positive number`);
  return n;
}

/** Parse a signal given as `SIGKILL`, `KILL` or `9`. */
export function parseSignal(input: string): string {
  const s = input.toUpperCase().replace(/^SIG/, '');
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw invalid(`invalid signal "${input}"`);
    return s;
  }
  const known = ['HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM', 'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS'];
  if (!known.includes(s)) throw invalid(`invalid signal "${input}"`);
  return `SIG${s}`;
}
