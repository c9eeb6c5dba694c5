import { invalid } from '../../core/errors.js';
import type { Path } from './source.js';

/**
 * Compose's variable interpolation, on every string value (never on keys):
 * `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
 * `${VAR:?message}` / `${VAR?message}` (an error), `${VAR:+alt}` / `${VAR+alt}`,
 * and `$$` for a literal `$`. Unset variables without a default become empty,
 * as Compose does (with a warning).
 */
export function interpolate(value: unknown, env: Record<string, string>, warn: (msg: string) => void, fail: (path: Path, why: string) => Error, path: Path = []): unknown {
  if (typeof value === 'string') {
    try {
      return substitute(value, env, warn);
    } catch (e) {
      throw fail(path, (e as Error).message);
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, warn, fail, [...path, i]));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, env, warn, fail, [...path, k]);
    return out;
  }
  return value;
}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

export function substitute(s: string, env: Record<string, string>, warn: (msg: string) => void = () => undefined): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const end = closingBrace(s, i + 2);
      out += expand(s.slice(i + 2, end), env, warn);
      i = end + 1;
      continue;
    }
    NAME.lastIndex = i + 1;
    const m = NAME.exec(s);
    if (!m) throw invalid(`invalid interpolation "${s}": a lone "$" (write "$$" for a literal one)`);
    out += lookup(m[0], env, warn);
    i = NAME.lastIndex;
  }
  return out;
}

function closingBrace(s: string, from: number): number {
  let depth = 1;
  for (let j = from; j < s.length; j++) {
    if (s[j] === '{') depth++;
    else if (s[j] === '}' && --depth === 0) return j;
  }
  throw invalid(`invalid interpolation "${s}": "\${" without its "}"`);
}

function expand(body: string, env: Record<string, string>, warn: (msg: string) => void): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
  if (!m) throw invalid(`invalid interpolation "\${${body}}"`);
  const [, name, op, arg = ''] = m;
  const set = Object.prototype.hasOwnProperty.call(env, name);
  const val = set ? env[name] : undefined;
  const present = op?.startsWith(':') ? set && val !== '' : set;
  switch (op) {
    case undefined:
      return lookup(name, env, warn);
    case ':-':
    case '-':
      return present ? val! : substitute(arg, env, warn);
    case ':?':
    case '?':
      if (!present) throw invalid(`required variable ${name} is missing a value${arg ? `: ${arg}` : ''}`);
      return val!;
    default: // :+ and +
      return present ? substitute(arg, env, warn) : '';
  }
}

function lookup(name: string, env: Record<string, string>, warn: (msg: string) => void): string {
  if (Object.prototype.hasOwnProperty.call(env, name)) return env[name];
  warn(`the "${name}" variable is not set: defaulting to a blank string`);
  return '';
}

/** The variable names a file refers to, so a client sends only those of its environment. */
export function referencedVariables(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]);
  return [...names];
}
