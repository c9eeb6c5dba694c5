import type { z } from 'zod';
import type { HullError } from '../../core/errors.js';
import type { ComposeSource, Path } from './source.js';

/** The first problem zod found, said as a person would: where, which field, what was expected. */
export function zodFailure(err: z.ZodError, src: ComposeSource, prefix: Path = []): HullError {
  const issue = deepest(err.issues[0]);
  const path: Path = [...prefix, ...(issue.path as Path)];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = (issue as { keys: string[] }).keys;
      return src.error([...path, keys[0]], `unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`, true);
    }
    case 'invalid_type':
      return src.error(path, `expected ${article((issue as { expected: string }).expected)}, got ${describe(valueAt(src.value, path))}`);
    case 'invalid_union':
      return src.error(path, `${describe(valueAt(src.value, path))} is not allowed here`);
    case 'invalid_value':
      return src.error(path, `${describe(valueAt(src.value, path))} is not one of ${((issue as { values: unknown[] }).values ?? []).map((v) => JSON.stringify(v)).join(', ')}`);
    default:
      return src.error(path, issue.message);
  }
}

/** A union's most specific branch error, when every branch failed on a deeper path than the union itself. */
function deepest(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union') return issue;
  const branches = (issue as { errors: z.core.$ZodIssue[][] }).errors.flat();
  const deeper = branches.filter((b) => b.path.length > 0 && b.code !== 'invalid_type');
  if (!deeper.length) return issue;
  const b = deepest(deeper[0]);
  return { ...b, path: [...issue.path, ...b.path] } as z.core.$ZodIssue;
}

function valueAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const p of path) v = v && typeof v === 'object' ? (v as Record<string | number, unknown>)[p] : undefined;
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return JSON.stringify(v);
}

const article = (t: string) => (t === 'array' ? 'a list' : t === 'object' ? 'a map' : /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);
