import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isHullError } from '../core/errors.js';
import { body, params, q, query, RefParams } from './parse.js';

/** The message of the `invalid` error `f` throws (and fails if it throws anything else). */
function refused(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(isHullError(e, 'invalid'), String(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected an invalid error');
}

describe('query', () => {
  const Q = z.object({ signal: q.str(), all: q.bool(), t: q.int(10, 0, 100), tag: q.list(), mode: q.oneOf(['a', 'b'], 'a') });

  it('gives typed values and defaults', () => {
    expect(query(Q, { signal: 'TERM', all: '1', t: '5', tag: 'x', mode: 'b' })).toEqual({ signal: 'TERM', all: true, t: 5, tag: ['x'], mode: 'b' });
    expect(query(Q, {})).toEqual({ signal: undefined, all: false, t: 10, tag: [], mode: 'a' });
    expect(query(Q, new URLSearchParams('tag=a&tag=b&all=true'))).toMatchObject({ tag: ['a', 'b'], all: true });
  });

  it('refuses a single-valued parameter given twice, naming it (not a 500 further in)', () => {
    expect(refused(() => query(Q, { signal: ['a', 'b'] }))).toBe('query parameter "signal" is given 2 times: give it once');
    expect(refused(() => query(Q, new URLSearchParams('t=1&t=2')))).toMatch(/"t" is given 2 times/);
  });

  it('refuses unknown parameters, naming them', () => {
    expect(refused(() => query(Q, { nope: '1' }))).toBe('unknown query parameter "nope"');
    expect(refused(() => query(Q, JSON.parse('{"__proto__":"x"}')))).toMatch(/unknown query parameter "__proto__"/);
  });

  it('refuses malformed values, naming the field', () => {
    expect(refused(() => query(Q, { all: 'maybe' }))).toMatch(/query parameter "all": expected 1, true, 0 or false/);
    for (const t of ['x', '1.5', '-1', '101', '1e3', ' 1', '99999999999999999999']) expect(refused(() => query(Q, { t })), t).toMatch(/query parameter "t": expected an integer from 0 to 100/);
    expect(refused(() => query(Q, { mode: 'c' }))).toMatch(/query parameter "mode"/);
  });

  it('reads booleans as docker spells them', () => {
    for (const v of ['1', 'true', 'True', 'yes']) expect(query(Q, { all: v }).all, v).toBe(true);
    for (const v of ['0', 'false', 'FALSE', 'no', '']) expect(query(Q, { all: v }).all, v).toBe(false);
  });

  it('requires what q.required says', () => {
    const P = z.object({ path: q.required() });
    expect(refused(() => query(P, {}))).toBe('query parameter "path": is required');
    expect(refused(() => query(P, { path: '' }))).toBe('query parameter "path": is required');
    expect(refused(() => query(P, { path: ['/a', '/b'] }))).toMatch(/"path" is given 2 times/);
  });
});

describe('params and body', () => {
  it('takes a ref up to the router limit, not an empty one', () => {
    expect(params(RefParams, { ref: 'x'.repeat(1024) }).ref).toHaveLength(1024);
    expect(refused(() => params(RefParams, { ref: '' }))).toMatch(/path parameter "ref"/);
  });

  it('refuses unknown and mistyped body fields, naming them', () => {
    const B = z.object({ cmd: z.array(z.string()), tty: z.boolean().default(false) }).strict();
    expect(body(B, { cmd: ['sh'] })).toEqual({ cmd: ['sh'], tty: false });
    expect(refused(() => body(B, { cmd: ['sh'], ttty: true }, 'exec request'))).toBe('invalid exec request: unknown field "ttty"');
    expect(refused(() => body(B, { cmd: 'sh' }))).toMatch(/^invalid request body: field "cmd": /);
    expect(refused(() => body(B, [1, 2]))).toMatch(/^invalid request body: /);
    expect(refused(() => body(B, undefined))).toMatch(/field "cmd"/);
  });
});
