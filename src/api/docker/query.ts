import { z } from 'zod';
import { DockerError } from './errors.js';

/**
 * Query strings and bodies as dockerd reads them. Unknown parameters and
 * body fields are ignored, not refused: every docker client version sends
 * fields of its own version, and dockerd's Go decoder ignores what it does
 * not know. Values of the fields Hull reads are checked, and a bad one is a
 * 400 naming the field.
 */
export type RawQuery = Record<string, string | string[] | undefined>;

const one = (q: RawQuery, k: string): string | undefined => {
  const v = q[k];
  return Array.isArray(v) ? v[v.length - 1] : v;
};

/** docker's boolValue: anything but "", 0, no, false, none is true. */
export function qBool(q: RawQuery, k: string, dflt = false): boolean {
  const v = one(q, k);
  if (v === undefined) return dflt;
  return !['', '0', 'no', 'false', 'none'].includes(v.toLowerCase());
}

export function qInt(q: RawQuery, k: string, dflt: number): number;
export function qInt(q: RawQuery, k: string): number | undefined;
export function qInt(q: RawQuery, k: string, dflt?: number): number | undefined {
  const v = one(q, k);
  if (v === undefined || v === '') return dflt;
  if (!/^-?\d{1,15}$/.test(v)) throw new DockerError(400, `invalid value for ${k}: "${v.slice(0, 64)}" is not an integer`);
  return Number(v);
}

export function qStr(q: RawQuery, k: string): string | undefined {
  return one(q, k);
}

/** A parameter that may repeat (`?t=a&t=b`). */
export function qList(q: RawQuery, k: string): string[] {
  const v = q[k];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** A JSON-valued parameter (`buildargs`, `labels`), or undefined. */
export function qJson<T>(q: RawQuery, k: string, schema: z.ZodType<T>): T | undefined {
  const v = one(q, k);
  if (v === undefined || v === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw new DockerError(400, `invalid ${k}: not JSON`);
  }
  const r = schema.safeParse(parsed);
  if (!r.success) throw new DockerError(400, `invalid ${k}: ${issues(r.error)}`);
  return r.data;
}

/** A JSON body through a (non-strict) schema; none is `{}`. */
export function dockerBody<T>(schema: z.ZodType<T>, raw: unknown, what: string): T {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) throw new DockerError(400, `invalid ${what}: ${issues(r.error)}`);
  return r.data;
}

function issues(e: z.ZodError): string {
  return e.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/** Go's nil slice and map come as null: read them as absent. */
export const nullable = <T extends z.ZodType>(t: T) => t.nullish().transform((v) => v ?? undefined);

/** docker's label filter (every `label=` given must match): the one Hull's own filters use. */
export { allLabels } from '../filters.js';
