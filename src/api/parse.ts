import { z } from 'zod';
import { invalid } from '../core/errors.js';

/**
 * The API's one edge parser: every route turns its path parameters, query
 * string and JSON body into typed values here, strictly. A field the schema
 * does not name, a query parameter given twice where one is expected, or a
 * value of the wrong shape is refused with `invalid` (400) naming the field,
 * before the route does anything. Fastify's routes and the upgrade router
 * (attach, exec start) share it, as later resources will.
 *
 *   const P = z.object({ ref }), Q = z.object({ t: q.int(10, 0) }).strict();
 *   const { ref: r } = params(P, req.params), { t } = query(Q, req.query);
 */

/** What a query arrives as: fastify's object (a repeated key gives an array) or URLSearchParams. */
type RawQuery = Record<string, unknown> | URLSearchParams | null | undefined;

/** Fields that may repeat (`?t=a&t=b`); every other field takes one value. */
const LISTS = new WeakSet<z.ZodType>();

/** The longest path parameter the router takes (a full image reference with a digest fits). */
export const PARAM_MAX = 1024;

/** A path parameter naming an object: a name, an id or its prefix, an image reference. */
export const ref = z.string().min(1).max(PARAM_MAX);
export const RefParams = z.object({ ref }).strict();

const oneOf = (v: string | undefined, dflt: boolean, ctx: z.RefinementCtx) => {
  if (v === undefined) return dflt;
  const s = v.toLowerCase();
  if (['1', 'true', 'yes'].includes(s)) return true;
  if (['0', 'false', 'no', ''].includes(s)) return false;
  ctx.addIssue({ code: 'custom', message: `expected 1, true, 0 or false, got "${v}"` });
  return z.NEVER;
};

const toInt = (v: string | undefined, dflt: number | undefined, min: number, max: number, ctx: z.RefinementCtx) => {
  if (v === undefined || v === '') return dflt;
  const n = /^-?\d{1,15}$/.test(v) ? Number(v) : NaN;
  if (Number.isInteger(n) && n >= min && n <= max) return n;
  ctx.addIssue({ code: 'custom', message: `expected an integer from ${min} to ${max}, got "${v}"` });
  return z.NEVER;
};

/** Query fields: every value arrives as a string, as docker's clients send it. */
export const q = {
  /** A flag: 1/true/yes or 0/false/no (an empty value is false, as docker reads it). */
  bool: (dflt = false) => z.string().optional().transform((v, ctx) => oneOf(v, dflt, ctx)),
  /** A whole number in [min, max]; absent or empty gives dflt. */
  int: (dflt: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) =>
    z.string().optional().transform((v, ctx) => toInt(v, dflt, min, max, ctx) as number),
  /** A whole number in [min, max], or undefined when absent. */
  optInt: (min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) => z.string().optional().transform((v, ctx) => toInt(v, undefined, min, max, ctx)),
  /** One string, or undefined when absent. */
  str: () => z.string().optional(),
  /** One string, required and not empty. */
  required: () => z.string({ error: 'is required' }).min(1, 'is required'),
  /** One of a few words; absent gives dflt. */
  oneOf: <const T extends readonly [string, ...string[]]>(values: T, dflt: T[number]) => z.enum(values).default(dflt),
  /** A parameter that may be repeated: every value, in order. */
  list: () => {
    const s = z.preprocess((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]), z.array(z.string()));
    LISTS.add(s);
    return s;
  },
};

/**
 * A string read by one of core's parsers (`parseSignal`, `parseReference`): its
 * `invalid` becomes this field's issue, so the 400 names the field.
 */
export function parsedBy<T>(parser: (s: string) => T) {
  return z.string().transform((s, ctx): T => {
    try {
      return parser(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });
}

/** Path parameters, as the router decoded them. */
export function params<T extends z.ZodObject>(schema: T, raw: unknown): z.output<T> {
  return check(schema, raw ?? {}, (field) => `path parameter "${field}"`);
}

/** A query string: unknown parameters and repeats of single-valued ones are refused. */
export function query<T extends z.ZodObject>(schema: T, raw: RawQuery): z.output<T> {
  const rec = queryRecord(raw);
  const shape = schema.shape as Record<string, z.ZodType>;
  for (const [k, v] of Object.entries(rec)) {
    if (!Object.hasOwn(shape, k)) throw invalid(`unknown query parameter "${clip(k)}"`);
    if (Array.isArray(v) && !LISTS.has(shape[k])) throw invalid(`query parameter "${k}" is given ${v.length} times: give it once`);
  }
  return check(schema, rec, (field) => `query parameter "${field}"`);
}

/** A JSON body (none is `{}`): `what` names it in the message, e.g. "exec request". */
export function body<T extends z.ZodType>(schema: T, raw: unknown, what = 'request body'): z.output<T> {
  const r = schema.safeParse(raw ?? {});
  if (r.success) return r.data;
  throw invalid(`invalid ${what}: ${issues(r.error, (f) => `field "${f}"`)}`);
}

function check<T extends z.ZodType>(schema: T, raw: unknown, name: (field: string) => string): z.output<T> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  throw invalid(issues(r.error, name));
}

/** Zod's issues as one line that names each field: `query parameter "t": expected an integer …`. */
function issues(e: z.ZodError, name: (field: string) => string): string {
  return e.issues
    .map((i) => {
      if (i.code === 'unrecognized_keys') return i.keys.map((k) => `unknown ${name(clip([...i.path, k].join('.')))}`).join('; ');
      return i.path.length ? `${name(i.path.join('.'))}: ${i.message}` : i.message;
    })
    .join('; ');
}

function queryRecord(raw: RawQuery): Record<string, unknown> {
  if (!raw) return {};
  if (!(raw instanceof URLSearchParams)) return raw;
  const rec: Record<string, string | string[]> = Object.create(null);
  for (const k of new Set(raw.keys())) {
    const all = raw.getAll(k);
    rec[k] = all.length === 1 ? all[0] : all;
  }
  return rec;
}

/** A field name echoed in a message, cut short: it came from the client. */
const clip = (s: string) => (s.length > 64 ? `${s.slice(0, 64)}…` : s);
