import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { api, httpBytes, rawSend, UPGRADE } from '../helpers/api.js';
import { REPO, TestDaemon } from '../helpers/hull.js';

/**
 * The edge fuzz: every operation of openapi.yaml, plain and upgraded, sent
 * malformed (escapes, encodings, repeated, unknown, missing and mistyped
 * parameters, broken, huge and deeply nested bodies, odd headers) by clients
 * that sometimes vanish mid-request. Every request is broken at the edge in
 * at least one way, so none may act: each answer is a 4xx, never a 5xx, never
 * silence; after every batch the daemon is alive and serves a normal request,
 * and its log shows no uncaught error. Seeded (HULL_FUZZ_SEED) and bounded in
 * time (HULL_FUZZ_SECONDS, default 25).
 */
const SEED = Number(process.env.HULL_FUZZ_SEED ?? 20251204);
const SECONDS = Number(process.env.HULL_FUZZ_SECONDS ?? 25);
const BATCH = 16;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML
type Json = Record<string, any>;
const spec: Json = parse(readFileSync(join(REPO, 'src', 'api', 'openapi.yaml'), 'utf8'));
const deref = (v: Json): Json => (v.$ref ? deref((v.$ref as string).slice(2).split('/').reduce((o: Json, k) => o[k], spec)) : v);

interface Op {
  method: string;
  path: string;
  query: Array<{ name: string; schema: Json }>;
  /** A JSON body: one the edge parser reads (others are streams: tar, a disk image). */
  jsonBody: boolean;
  upgrade: boolean;
}
const OPS: Op[] = Object.entries(spec.paths as Json).flatMap(([path, item]) =>
  ['get', 'put', 'post', 'delete'].filter((m) => item[m]).map((m) => {
    const op = item[m] as Json;
    const ps = [...(item.parameters ?? []), ...(op.parameters ?? [])].map(deref);
    return { method: m.toUpperCase(), path, query: ps.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: deref(p.schema ?? {}) })), jsonBody: Boolean(op.requestBody?.content?.['application/json']), upgrade: Boolean(op['x-hull-upgrade']) };
  }),
);

/** mulberry32: small, seeded, good enough to pick cases. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)], chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof rng>;

/** Path segments that are not a usable reference: broken escapes, traversal, control bytes, too long. */
const BAD_SEGMENTS = ['%E0%A4%A', '%', '%%', '%G1', '%FF', '%C0%80', '%00', '%0A', '..%2F..%2Fetc', '%2E%2E', 'a%20b', '%F0%9F%92%A9', 'x'.repeat(2000), '%ZZ', '-', '.', 'nosuch'];
const BAD_VALUES = ['%E0%A4%A', '', 'abc', '-1', '1e999', '99999999999999999999', '0x10', 'NaN', 'true%00', '%FF', '[]', '{}', 'x'.repeat(5000)];
const JUNK_KEYS = ['zz', '__proto__', 'constructor', 'a[b]', '%E0%A4%A', ''];

function badQuery(r: Rng, op: Op): string {
  const kind = r.pick(['unknown', 'repeat', 'wrongType', 'proto', 'many'] as const);
  const doc = op.query.length ? r.pick(op.query) : undefined;
  if (kind === 'repeat' && doc) return `${doc.name}=1&${doc.name}=0`;
  if (kind === 'wrongType' && doc && doc.schema.type === 'integer') return `${doc.name}=${r.pick(BAD_VALUES)}&zz=1`;
  if (kind === 'proto') return `__proto__=1&constructor=2&${r.pick(JUNK_KEYS)}=x`;
  if (kind === 'many') return Array.from({ length: 2000 }, (_, i) => `k${i}=${i}`).join('&');
  return `${r.pick(JUNK_KEYS.filter(Boolean))}=${r.pick(BAD_VALUES)}`;
}

/** A documented parameter with a plausible or a wrong value (the request is broken elsewhere). */
function noiseQuery(r: Rng, op: Op): string {
  if (!op.query.length) return '';
  const p = r.pick(op.query);
  return `${p.name}=${r.chance(0.5) ? r.pick(BAD_VALUES) : '1'}`;
}

function deep(n: number, open: string, close: string): string {
  return open.repeat(n) + close.repeat(n);
}

/** A JSON body that no schema takes: unknown fields, wrong types, deep nesting, huge, not JSON at all. */
function badBody(r: Rng): { body: Buffer; type: string } {
  const json = (v: unknown) => ({ body: Buffer.from(JSON.stringify(v)), type: 'application/json' });
  switch (r.pick(['unknown', 'types', 'deepArray', 'deepObject', 'notJson', 'huge', 'array', 'string', 'bigNumber', 'proto'] as const)) {
    case 'unknown':
      return json({ zz: 1, image: 'busybox', name: 'x' });
    case 'types':
      return json({ name: 7, image: ['busybox'], cmd: 'true', cpus: 'lots', memoryBytes: -1, labels: [1], hostname: { a: 1 }, ref: null, path: 3, container: false });
    case 'deepArray':
      return { body: Buffer.from(`{"cmd":${deep(50_000, '[', ']')}}`), type: 'application/json' };
    case 'deepObject':
      return { body: Buffer.from(`${deep(20_000, '{"a":', '}').replace('{"a":}', '{"a":1}')}`), type: 'application/json' };
    case 'notJson':
      return { body: Buffer.from(r.pick(['{', '{"a":1', 'nul', '\u0000\u0001', '{"a":1}}', "{'a':1}"])), type: 'application/json' };
    case 'huge':
      return r.chance(0.2) ? json({ zz: 'x'.repeat(17 * 1024 * 1024) }) : json({ zz: 'x'.repeat(4 * 1024 * 1024) });
    case 'array':
      return json([1, 2, 3]);
    case 'string':
      return json('busybox');
    case 'bigNumber':
      return { body: Buffer.from('{"memoryBytes": 1e999999, "cpus": -0, "zz": 1}'), type: 'application/json' };
    default:
      return { body: Buffer.from('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}'), type: 'application/json' };
  }
}

interface Case {
  label: string;
  bytes: Buffer;
  /** Client vanishes: ms after writing (0: at once), or undefined (waits for the answer). */
  vanishMs?: number;
}

/** One request to `op`, broken at the edge in at least one way, with some extra noise. */
function makeCase(r: Rng, op: Op): Case {
  const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  const breakPath = params.length > 0 && r.chance(0.5);
  const breakBody = op.jsonBody && r.chance(0.5);
  const breakQuery = (!breakPath && !breakBody) || r.chance(0.3);
  let path = op.path;
  for (const p of params) path = path.replace(`{${p}}`, breakPath ? r.pick(BAD_SEGMENTS) : r.pick(['nosuch', 'box', 'a.b-c_d']));
  const qs = [breakQuery ? badQuery(r, op) : '', r.chance(0.3) ? noiseQuery(r, op) : ''].filter(Boolean).join('&');
  const headers: Record<string, string> = {};
  if (op.upgrade || r.chance(0.15)) Object.assign(headers, UPGRADE);
  let body: Buffer | undefined;
  if (breakBody || r.chance(0.3)) {
    const b = breakBody || r.chance(0.7) ? badBody(r) : { body: Buffer.from('{}'), type: 'application/json' };
    body = b.body;
    headers['Content-Type'] = r.chance(0.1) ? r.pick(['text/plain', 'application/json; charset=utf-32', 'application/x-tar', 'application/octet-stream', 'multipart/form-data; boundary=x']) : b.type;
  }
  if (r.chance(0.1)) Object.assign(headers, r.pick([{ 'X-Junk': 'a'.repeat(8000) }, { Expect: '100-continue' }, { 'Content-Encoding': 'gzip' }, { Accept: '\u00ff\u00fe' }, { Upgrade: 'h2c\u00ff', Connection: 'Upgrade' }]));
  let bytes = httpBytes(op.method, qs ? `${path}?${qs}` : path, headers, body);
  const mangle = r.chance(0.1) ? r.pick(['clAbc', 'clShort', 'chunkedBad', 'partial', 'dupCl'] as const) : undefined;
  if (mangle === 'clAbc') bytes = Buffer.from(bytes.toString('latin1').replace('Host: hull', 'Host: hull\r\nContent-Length: abc'), 'latin1');
  if (mangle === 'dupCl') bytes = Buffer.from(bytes.toString('latin1').replace('Host: hull', 'Host: hull\r\nContent-Length: 1\r\nContent-Length: 2'), 'latin1');
  if (mangle === 'chunkedBad') bytes = Buffer.from(bytes.toString('latin1').replace('Host: hull', 'Host: hull\r\nTransfer-Encoding: chunked').replace(/\r\n\r\n[\s\S]*$/, '\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'), 'latin1');
  if (mangle === 'clShort') bytes = Buffer.from(bytes.toString('latin1').replace('Host: hull', 'Host: hull\r\nContent-Length: 100000'), 'latin1');
  // A client that never finishes its request, or goes away at some point, gets no answer.
  const vanishMs = mangle === 'partial' || mangle === 'clShort' ? 20 : r.chance(0.2) ? r.pick([0, 1, 5, 30]) : undefined;
  if (mangle === 'partial') bytes = bytes.subarray(0, Math.max(1, Math.floor(bytes.length * r.next())));
  const head = bytes.toString('latin1', 0, Math.min(bytes.length, 400)).split('\r\n').slice(1, 8).map((h) => h.slice(0, 60)).join(' | ');
  return { label: `${op.method} ${path.slice(0, 120)}${qs ? `?${qs.slice(0, 80)}` : ''} [${head}] body ${body?.length ?? '-'} ${mangle ?? ''} vanish ${vanishMs ?? '-'}`, bytes, vanishMs };
}

/** The answer's body is openapi.yaml's Error: `{code, message}`, nothing else. */
function isErrorBody(text: string): boolean {
  const at = text.lastIndexOf('\r\n\r\n');
  try {
    const body = JSON.parse(text.slice(at + 4));
    return Object.keys(body).sort().join() === 'code,message' && typeof body.message === 'string';
  } catch {
    return false;
  }
}

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
  await d.ok(['run', '-d', '--name', 'box', 'busybox', 'sleep', '1000']);
}, 60_000);
afterAll(async () => {
  await d?.destroy();
}, 60_000);

describe(`edge fuzz (seed ${SEED}, ${SECONDS} s)`, () => {
  it('never exits, never answers bad input with a 5xx or silence, and serves a normal request after every batch', async () => {
    expect(OPS.length).toBeGreaterThan(40);
    expect(OPS.filter((o) => o.upgrade).length).toBe(2);
    const r = rng(SEED);
    const deadline = Date.now() + SECONDS * 1000;
    const bad: string[] = [];
    const seen = new Set<string>();
    let sent = 0;
    let answered = 0;
    for (let batch = 0; Date.now() < deadline || seen.size < OPS.length; batch++) {
      // Every operation in turn, then at random.
      const ops = Array.from({ length: BATCH }, (_, i) => OPS[batch * BATCH + i] ?? r.pick(OPS));
      const cases = ops.map((op) => (seen.add(`${op.method} ${op.path}`), makeCase(r, op)));
      const got = await Promise.all(cases.map((c) => rawSend(d.socket, c.bytes, { timeoutMs: 10_000, destroyAfterMs: c.vanishMs })));
      got.forEach((g, i) => {
        const c = cases[i];
        sent++;
        if (g.status) answered++;
        // A server may answer early and close while a client still sends a large body: that client may read nothing.
        if (c.vanishMs !== undefined || (g.cutOff && !g.status)) {
          if (g.status >= 500) bad.push(`${g.status} for ${c.label}: ${g.text.slice(0, 300)}`);
        } else if (!(g.status >= 400 && g.status < 500)) {
          bad.push(`${g.status || (g.timedOut ? 'no answer' : 'closed without an answer')} for ${c.label}: ${g.text.slice(0, 300)}`);
        } else if (!isErrorBody(g.text)) {
          bad.push(`not an Error body for ${c.label}: ${g.text.slice(0, 300)}`);
        }
      });
      expect(d.proc!.exitCode, `daemon exited (seed ${SEED}, batch ${batch}): ${d.logs.slice(-3000)}`).toBeNull();
      expect((await api(d.socket, 'GET', '/_ping')).status).toBe(200);
      expect((await api(d.socket, 'GET', '/v1/version')).json).toMatchObject({ apiVersion: 'v1' });
      expect(bad, `seed ${SEED}`).toEqual([]);
    }
    // Nothing broken acted: the container is as it was, the daemon's log has no bug in it.
    expect(await d.state('box', 'Status')).toBe('running');
    expect((await d.ok(['ps', '-aq'])).trim().split('\n')).toHaveLength(1);
    expect(d.logs.split('\n').filter((l) => /uncaught exception|unhandled rejection|"level":[56]0/.test(l)).map((l) => l.slice(0, 1500))).toEqual([]);
    expect(sent).toBeGreaterThan(OPS.length);
    expect(answered).toBeGreaterThan(sent / 2);
  }, (SECONDS + 60) * 1000);
});
