/**
 * How template data stands for Go values, and how Go prints them.
 *
 *   plain object   a struct: a missing field is an error; printed `{v1 v2}`
 *   Map            a map: a missing key is "no value"; printed `map[k:v]`, keys sorted
 *   array          a slice: printed `[a b]`
 *   null           nil: printed `<nil>`
 *   undefined      Go's invalid value (a missing map key): printed `<no value>`
 *   function       a method: `.Label "k"` calls it with the arguments
 *
 * A struct may name its Go type (`typeName`) for error messages, as docker's
 * `can't evaluate field Foo in type *formatter.ContainerContext`; one without
 * a name answers as docker's inspect does (`map has no entry for key "Foo"`).
 */
export const TYPE_NAME = Symbol('go type name');
/** What `json` encodes for a struct whose JSON differs from its fields (Go's json tags): docker's event message. */
export const JSON_OF = Symbol('json form');

export type GoStruct = Record<string, unknown> & { [TYPE_NAME]?: string };

/** Mark an object as a struct of the given Go type name. */
export function struct<T extends object>(typeName: string, o: T): T {
  Object.defineProperty(o, TYPE_NAME, { value: typeName, enumerable: false });
  return o;
}

/** Give a struct the JSON docker's json tags would (a value encoded instead of the struct). */
export function withJson<T extends object>(o: T, json: unknown): T {
  Object.defineProperty(o, JSON_OF, { value: json, enumerable: false });
  return o;
}

/** A Go map from a plain record. */
export function goMap(o: Record<string, unknown> | undefined | null): Map<string, unknown> {
  return new Map(Object.entries(o ?? {}));
}

export const isStruct = (v: unknown): v is GoStruct => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map);

export function typeName(v: unknown): string {
  if (v === undefined) return 'invalid';
  if (v === null) return 'nil';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'function') return 'func';
  if (Array.isArray(v)) return '[]interface {}';
  if (v instanceof Map) return 'map[string]interface {}';
  return (v as GoStruct)[TYPE_NAME] ?? 'struct';
}

/** Go's truth for if, with, and, or, not: zero values are false. */
export function truth(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  return true;
}

/** fmt's %v. */
export function printValue(v: unknown, nested = false): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'function') return nested ? '0x0' : '<func>';
  if (Array.isArray(v)) return `[${v.map((x) => printValue(x, true)).join(' ')}]`;
  if (v instanceof Map) return `map[${sortedKeys(v).map((k) => `${k}:${printValue(v.get(k), true)}`).join(' ')}]`;
  return `{${Object.values(v as object).map((x) => printValue(x, true)).join(' ')}}`;
}

export const sortedKeys = (m: Map<string, unknown>): string[] => [...m.keys()].sort();

/**
 * Integers as Go prints an int; others as its %v of a float64: strconv's
 * shortest 'g', with an exponent from 1e6 up or below 1e-4. (A float with an
 * integral value, such as the literal 1e6, prints here as the integer.)
 */
export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  return formatFloat(n);
}

/** Go's %v (and %g) of a float64: shortest digits, an exponent below 1e-4 and from 1e6. */
export function formatFloat(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= 6) return goExponent(n.toExponential());
  return String(n);
}

/** JS `1.5e+21` → Go `1.5e+21`; `1e-7` → `1e-07`: Go writes at least two exponent digits. */
export function goExponent(s: string): string {
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** encoding/json as docker's `json` function uses it: no HTML escaping; map keys sorted. */
export function toJson(v: unknown): string {
  if (v === undefined || v === null || typeof v === 'function') return 'null';
  if (typeof v === 'string') return JSON.stringify(v).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : 'null';
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v instanceof Map) return `{${sortedKeys(v).map((k) => `${toJson(k)}:${toJson(v.get(k))}`).join(',')}}`;
  if (JSON_OF in (v as object)) return toJson((v as Record<symbol, unknown>)[JSON_OF]);
  const entries = Object.entries(v as object).filter(([, x]) => typeof x !== 'function');
  return `{${entries.map(([k, x]) => `${toJson(k)}:${toJson(x)}`).join(',')}}`;
}
