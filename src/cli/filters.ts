import { InvalidArgumentError } from 'commander';

/**
 * `--filter key=value` flags (repeatable), as commander collects them: one
 * without `=` is a usage error, as docker's. `toFilters` makes the `filters`
 * query docker's API takes: `{"name":["web"],"label":["a=1"]}`; the daemon
 * checks the keys.
 */
export function collectFilter(v: string, prev: string[] = []): string[] {
  if (v.indexOf('=') <= 0) throw new InvalidArgumentError('bad format of filter (expected name=value)');
  return [...prev, v];
}

export function toFilters(flags: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of flags) {
    const i = f.indexOf('=');
    (out[f.slice(0, i).toLowerCase()] ??= []).push(f.slice(i + 1));
  }
  return out;
}
