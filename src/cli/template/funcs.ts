import { sprintf } from './printf.js';
import { printValue, toJson, truth, typeName } from './values.js';

/**
 * The functions a template may call: Go's builtins (and, or, not, len,
 * index, slice, print, printf, println, eq, ne, lt, le, gt, ge, html, js,
 * urlquery; not call, since no data here holds a function value) and docker's (json, split, join, title, lower, upper, pad,
 * truncate). `and` and `or` are evaluated lazily by the executor, as Go does.
 * A function throws a plain Error; the executor wraps it as
 * `error calling NAME: …`.
 */
export type Func = (...args: unknown[]) => unknown;

/**
 * A function: its arity (fixed, or [min] for variadic) and the Go types of
 * its fixed parameters, which the executor checks before the call, as Go
 * does (`wrong type for value; expected string; got int`, at the argument).
 */
interface Def {
  fn: Func;
  arity: number | [number];
  params?: ParamType[];
}

export type ParamType = 'string' | 'int' | '[]string' | 'any';

/** Go's check of one argument against its parameter's type; the message, or undefined if it fits. */
export function checkParam(t: ParamType | undefined, v: unknown): string | undefined {
  const ok = t === undefined || t === 'any' || (t === 'string' && typeof v === 'string') || (t === 'int' && typeof v === 'number' && Number.isInteger(v)) || (t === '[]string' && Array.isArray(v) && v.every((x) => typeof x === 'string'));
  return ok ? undefined : `wrong type for value; expected ${t}; got ${typeName(v)}`;
}

const str = (v: unknown): string => v as string;
const int = (v: unknown): number => {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`wrong type for value; expected int; got ${typeName(v)}`);
  return v;
};

const DEFS: Record<string, Def> = {
  and: { fn: (...a) => a.find((x) => !truth(x)) ?? a[a.length - 1], arity: [1] },
  or: { fn: (...a) => a.find(truth) ?? a[a.length - 1], arity: [1] },
  not: { fn: (a) => !truth(a), arity: 1 },
  len: { fn: length, arity: 1 },
  index: { fn: (x, ...keys) => keys.reduce(indexOne, x), arity: [1] },
  slice: { fn: slice, arity: [1] },
  print: { fn: (...a) => goPrint(a), arity: [0] },
  printf: { fn: (f, ...a) => sprintf(str(f), a), arity: [1], params: ['string'] },
  println: { fn: (...a) => `${a.map((x) => printValue(x)).join(' ')}\n`, arity: [0] },
  eq: { fn: (a, ...bs) => bs.some((b) => equal(a, b)), arity: [1] },
  ne: { fn: (a, b) => !equal(a, b), arity: 2 },
  lt: { fn: (a, b) => compare(a, b) < 0, arity: 2 },
  le: { fn: (a, b) => compare(a, b) <= 0, arity: 2 },
  gt: { fn: (a, b) => compare(a, b) > 0, arity: 2 },
  ge: { fn: (a, b) => compare(a, b) >= 0, arity: 2 },
  html: { fn: (...a) => goPrint(a).replace(/[<>&'"\0]/g, (c) => HTML[c]), arity: [0] },
  js: { fn: (...a) => goPrint(a).replace(/[\\'"<>&=\n\r\t]/g, (c) => JS[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`), arity: [0] },
  urlquery: { fn: (...a) => encodeURIComponent(goPrint(a)).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`), arity: [0] },
  // docker's (cli/templates/templates.go)
  json: { fn: (v) => toJson(v), arity: 1 },
  split: { fn: (s, sep) => str(s).split(str(sep)), arity: 2, params: ['string', 'string'] },
  join: { fn: (xs, sep) => (xs as string[]).join(str(sep)), arity: 2, params: ['[]string', 'string'] },
  title: { fn: (s) => title(str(s)), arity: 1, params: ['string'] },
  lower: { fn: (s) => str(s).toLowerCase(), arity: 1, params: ['string'] },
  upper: { fn: (s) => str(s).toUpperCase(), arity: 1, params: ['string'] },
  pad: { fn: (s, pre, post) => (s === '' ? '' : ' '.repeat(Math.max(0, pre as number)) + str(s) + ' '.repeat(Math.max(0, post as number))), arity: 3, params: ['string', 'int', 'int'] },
  truncate: { fn: (s, n) => (str(s).length < (n as number) ? s : str(s).slice(0, Math.max(0, n as number))), arity: 2, params: ['string', 'int'] },
};

const HTML: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;', '\0': '\uFFFD' };
const JS: Record<string, string> = { '\\': '\\\\', "'": "\\'", '"': '\\"', '<': '\\u003C', '>': '\\u003E', '&': '\\u0026', '=': '\\u003D', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export const FUNC_NAMES: ReadonlySet<string> = new Set(Object.keys(DEFS));

/** The function, checked for the number of arguments, and its parameters' types. */
export function lookup(name: string, funcs: Record<string, Func> = {}): { fn: Func; params: ParamType[]; check: (n: number) => string | undefined } {
  const def: Def = funcs[name] ? { fn: funcs[name], arity: [0] } : DEFS[name];
  return {
    fn: def.fn,
    params: def.params ?? [],
    check: (n) => {
      if (typeof def.arity === 'number' && n !== def.arity) return `wrong number of args for ${name}: want ${def.arity} got ${n}`;
      if (Array.isArray(def.arity) && n < def.arity[0]) return `wrong number of args for ${name}: want at least ${def.arity[0]} got ${n}`;
      return undefined;
    },
  };
}

/** docker's table headers keep their names: the string functions give back their first argument (templates.HeaderFunctions). */
export const HEADER_FUNCS: Record<string, Func> = Object.fromEntries(['json', 'split', 'join', 'title', 'lower', 'upper', 'truncate'].map((n) => [n, (v: unknown) => v]));

/** strings.Title: the first letter after a separator (ASCII other than letters, digits and _; any space) upper-cased. */
function title(s: string): string {
  let out = '';
  let prev = ' ';
  for (const c of s) {
    const separator = prev.codePointAt(0)! < 0x80 ? !/[A-Za-z0-9_]/.test(prev) : /\s/u.test(prev);
    out += separator ? c.toUpperCase() : c;
    prev = c;
  }
  return out;
}

/** fmt.Sprint: a space between operands when neither is a string. */
function goPrint(a: unknown[]): string {
  let out = '';
  a.forEach((x, i) => {
    if (i > 0 && typeof x !== 'string' && typeof a[i - 1] !== 'string') out += ' ';
    out += printValue(x);
  });
  return out;
}

function length(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  throw new Error(`len of type ${typeName(v)}`);
}

function indexOne(x: unknown, key: unknown): unknown {
  if (Array.isArray(x) || typeof x === 'string') {
    if (typeof key !== 'number' || !Number.isInteger(key)) throw new Error(`cannot index slice/array with type ${typeName(key)}`);
    if (key < 0 || key >= x.length) throw new Error(`index out of range: ${key}`);
    return typeof x === 'string' ? Buffer.from(x)[key] : x[key];
  }
  if (x instanceof Map) {
    if (x.has(String(key))) return x.get(String(key));
    // Go gives the map's zero value: "" for the string maps (labels), nil for others.
    return [...x.values()].every((v) => typeof v === 'string') ? '' : null;
  }
  if (x === null || x === undefined) throw new Error('index of untyped nil');
  throw new Error(`can't index item of type ${typeName(x)}`);
}

function slice(x: unknown, ...idx: unknown[]): unknown {
  if (typeof x !== 'string' && !Array.isArray(x)) throw new Error(`can't slice item of type ${typeName(x)}`);
  const [i = 0, j = x.length] = idx.map(int);
  if (i < 0 || j < i || j > x.length) throw new Error(`index out of range: ${j > x.length ? j : i}`);
  return x.slice(i, j);
}

const basic = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

function equal(a: unknown, b: unknown): boolean {
  if (!basic(a) || !basic(b)) {
    if (a === null || b === null) return a === b;
    throw new Error('incompatible types for comparison');
  }
  if (a !== null && b !== null && typeof a !== typeof b) throw new Error('incompatible types for comparison');
  return a === b;
}

function compare(a: unknown, b: unknown): number {
  const ok = (v: unknown) => typeof v === 'string' || typeof v === 'number';
  if (!ok(a) || !ok(b)) throw new Error('invalid type for comparison');
  if (typeof a !== typeof b) throw new Error('incompatible types for comparison');
  return (a as number) < (b as number) ? -1 : a === b ? 0 : 1;
}
