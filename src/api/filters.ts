import { invalid } from '../core/errors.js';

/**
 * docker's `filters` query parameter: a JSON object of filter names to
 * values, either `{"name":["web"]}` or the older `{"name":{"web":true}}`.
 * Checked strictly: only the names the route knows, strings only, and a
 * bound on how much (a request must not make the daemon work without limit).
 */
export type Filters = Map<string, string[]>;

const MAX_VALUES = 64;
const MAX_LENGTH = 1024;

export function parseFilters(raw: unknown, known: readonly string[]): Filters {
  const out: Filters = new Map();
  if (raw === undefined || raw === '') return out;
  if (typeof raw !== 'string') throw invalid('filters must be given once, as a JSON object');
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    throw invalid(`invalid filters: not JSON: ${raw.slice(0, 100)}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalid('invalid filters: expected a JSON object of names to lists of values');
  let count = 0;
  for (const [name, v] of Object.entries(doc as Record<string, unknown>)) {
    if (!known.includes(name)) throw invalid(`invalid filter '${name}' (known: ${known.join(', ')})`);
    const values = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.keys(v) : undefined;
    if (!values || !values.every((x) => typeof x === 'string' && x.length <= MAX_LENGTH)) throw invalid(`invalid filter '${name}': values must be strings of at most ${MAX_LENGTH} characters`);
    count += values.length;
    if (count > MAX_VALUES) throw invalid(`invalid filters: at most ${MAX_VALUES} values`);
    if (values.length) out.set(name, values as string[]);
  }
  return out;
}

/** A filter matches when any of its values does; a filter not given matches everything. */
export function anyOf(f: Filters, name: string, test: (value: string) => boolean): boolean {
  const vs = f.get(name);
  return !vs || vs.some(test);
}

/**
 * docker matches names with a regular expression; Hull with a plain
 * substring, anchored by a leading `^` or a trailing `$` (what is written in
 * practice), so that no pattern can make the daemon backtrack for ever.
 */
export function nameMatches(pattern: string, name: string): boolean {
  const names = [name, `/${name}`];
  const start = pattern.startsWith('^');
  const end = pattern.endsWith('$') && !pattern.endsWith('\\$');
  const core = pattern.slice(start ? 1 : 0, end ? -1 : undefined);
  return names.some((n) => (start && end ? n === core : start ? n.startsWith(core) : end ? n.endsWith(core) : n.includes(core)));
}

/**
 * docker's label filter: every `label=` given must match, not any one of
 * them (`--filter label=a --filter label=b` lists what has both; compose asks
 * for its project and oneoff labels at once). Other filters' values are
 * alternatives (anyOf).
 */
export function allLabels(f: Filters, labels: Record<string, string>): boolean {
  return (f.get('label') ?? []).every((want) => labelMatches(want, labels));
}

/** `k` (has the label) or `k=v` (has it with that value), as docker's label filter. */
export function labelMatches(want: string, labels: Record<string, string>): boolean {
  const i = want.indexOf('=');
  if (i < 0) return Object.prototype.hasOwnProperty.call(labels, want);
  const k = want.slice(0, i);
  return Object.prototype.hasOwnProperty.call(labels, k) && labels[k] === want.slice(i + 1);
}
