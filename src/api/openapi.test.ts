import type { FastifyInstance, HTTPMethods } from 'fastify';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { EventLog } from '../core/events.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { HullError, type ErrorCode } from '../core/errors.js';
import { newState, type Instance } from '../core/instance.js';
import { summary } from './routes/containers.js';
import { CreateOptionsSchema } from '../engine/create-options.js';
import { errorResponse } from './errors.js';
import { buildServer, type ApiDeps } from './server.js';
import { query } from './parse.js';
import { UpgradeRouter } from './upgrade.js';

/** Each route's query schema, as fastify sees it once the edge parser has filled in the defaults. */
const routeQueries = vi.hoisted(() => new Map<string, unknown>());
vi.mock('./validation.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('./validation.js')>();
  return {
    ...orig,
    strictEdge: (app: FastifyInstance) => {
      orig.strictEdge(app);
      app.addHook('onRoute', (r) => void (r.method !== 'HEAD' && routeQueries.set(`${r.method} ${r.url}`, r.schema?.querystring)));
    },
  };
});

/**
 * The contract test: openapi.yaml describes exactly the routes the server
 * has (plain fastify routes and HTTP-upgrade streams), the create body is
 * CreateOptionsSchema, and the error codes and statuses are errors.ts's.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML, checked by the assertions
type Json = Record<string, any>;

const spec: Json = parse(readFileSync(new URL('./openapi.yaml', import.meta.url), 'utf8'));
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

/** Every operation in the yaml, as `METHOD /path/:param` (fastify's spelling). */
function specOperations(): Array<{ key: string; op: Json; path: string; method: string }> {
  return Object.entries(spec.paths as Json).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => ({ key: `${m.toUpperCase()} ${toFastify(path)}`, op: item[m] as Json, path, method: m })),
  );
}

const toFastify = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

/** Resolve a local `$ref` (`#/components/...`). */
function deref(v: Json): Json {
  if (!v.$ref) return v;
  const ref = v.$ref as string;
  expect(ref.startsWith('#/')).toBe(true);
  const target = ref
    .slice(2)
    .split('/')
    .reduce<Json | undefined>((o, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], spec);
  if (target === undefined) throw new Error(`unresolved $ref ${ref}`);
  return deref(target);
}

/**
 * Parse fastify's printRoutes({ commonPrefix: false }) tree: one node per
 * line, four columns of tree drawing per level, `segment (METHODS)`.
 */
function parseRouteTree(text: string): Array<{ method: string; url: string }> {
  const routes: Array<{ method: string; url: string }> = [];
  const stack: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^([│├└─\s]*?)([/:*\w.-][^ ]*)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) throw new Error(`unexpected printRoutes line: ${JSON.stringify(line)}`);
    const [, indent, segment, methods] = m;
    if (indent.length % 4 !== 0) throw new Error(`unexpected indent in printRoutes line: ${JSON.stringify(line)}`);
    const depth = indent.length / 4 - 1;
    stack.length = depth;
    const url = stack.join('') + segment;
    stack.push(segment);
    for (const method of methods ? methods.split(',').map((s) => s.trim()) : []) routes.push({ method, url });
  }
  return routes;
}

/** Deps whose every method throws (the engine's event log aside): the contract only needs the route table. */
function stubDeps(): ApiDeps {
  const eventLog = new EventLog();
  const stub = () =>
    new Proxy(
      {},
      {
        get: (_t, key) => (key === 'then' ? undefined : key === 'eventLog' ? eventLog : () => Promise.reject(new HullError('unavailable', `stub: ${String(key)}`))),
      },
    );
  return { engine: stub() as ApiDeps['engine'], images: stub() as ApiDeps['images'], log: pino({ level: 'silent' }), version: 'test' };
}

let app: FastifyInstance;
let plainRoutes: Array<{ method: string; url: string }>;
let upgradeRoutes: Array<{ method: string; url: string; query?: unknown }>;

beforeAll(async () => {
  const add = vi.spyOn(UpgradeRouter.prototype, 'add');
  app = await buildServer(stubDeps());
  await app.ready();
  upgradeRoutes = add.mock.calls.map(([method, url, opts]) => ({ method, url, query: opts.query }));
  add.mockRestore();
  // HEAD routes are fastify's automatic twins of GET routes.
  plainRoutes = parseRouteTree(app.printRoutes({ commonPrefix: false })).filter((r) => r.method !== 'HEAD');
});

afterAll(async () => {
  await app?.close();
});

describe('openapi.yaml', () => {
  it('is OpenAPI 3.1', () => {
    expect(spec.openapi).toMatch(/^3\.1\./);
    expect(spec.info?.version).toBe('v1');
  });

  it('reads the route table correctly (every parsed route is one fastify has)', () => {
    expect(plainRoutes.length).toBeGreaterThan(10);
    for (const r of plainRoutes) expect(app.hasRoute({ method: r.method as HTTPMethods, url: r.url }), `${r.method} ${r.url}`).toBe(true);
    expect(upgradeRoutes.length).toBeGreaterThan(0);
  });

  it('describes every route the server has, and no other', () => {
    const server = [...plainRoutes, ...upgradeRoutes].map((r) => `${r.method} ${r.url}`).sort();
    const described = specOperations()
      .map((o) => o.key)
      .sort();
    expect(described).toEqual(server);
  });

  it('describes the HTTP-upgrade routes, and only those, as 101 upgrades', () => {
    const upgrades = new Set(upgradeRoutes.map((r) => `${r.method} ${r.url}`));
    for (const { key, op } of specOperations()) {
      const isUpgrade = upgrades.has(key);
      expect(Boolean(op.responses?.['101']), `${key} 101 response`).toBe(isUpgrade);
      expect(Boolean(op['x-hull-upgrade']), `${key} x-hull-upgrade`).toBe(isUpgrade);
      if (isUpgrade) expect(op.description).toMatch(/Upgrade: tcp/);
    }
  });

  it('resolves every $ref', () => {
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref') refs.push(x as string);
          else walk(x);
        }
      }
    };
    walk(spec);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(() => deref({ $ref: ref }), ref).not.toThrow();
  });

  it('gives every operation a unique operationId and declares exactly its path parameters', () => {
    const ids = specOperations().map((o) => o.op.operationId);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { key, op, path } of specOperations()) {
      const params = [...(spec.paths[path].parameters ?? []), ...(op.parameters ?? [])].map(deref);
      const declared = params.filter((p) => p.in === 'path').map((p) => p.name as string);
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(declared.sort(), key).toEqual(inPath.sort());
      for (const p of params.filter((p) => p.in === 'path')) expect(p.required, `${key} ${p.name}`).toBe(true);
    }
  });

  it('answers every error with the Error body, under a status errors.ts maps a code to', () => {
    const statuses = new Set(Object.values(spec.components.schemas.ErrorCode['x-http-status']));
    for (const { key, op } of specOperations()) {
      for (const [status, resp] of Object.entries(op.responses as Json)) {
        if (Number(status) < 400) continue;
        expect(statuses.has(Number(status)), `${key} ${status}`).toBe(true);
        const schema = deref(resp as Json).content?.['application/json']?.schema;
        expect(schema?.$ref, `${key} ${status}`).toBe('#/components/schemas/Error');
      }
    }
  });
});

describe('openapi.yaml query parameters', () => {
  /** The zod object a route parses its query with (upgrade routes without one take none). */
  function schemaOf(key: string): z.ZodObject {
    const up = upgradeRoutes.find((r) => `${r.method} ${r.url}` === key);
    const s = (up ? (up.query ?? z.object({})) : routeQueries.get(key)) as z.ZodObject | undefined;
    if (!s) throw new Error(`no query schema for ${key}`);
    return s;
  }
  const documented = (path: string, op: Json) => [...(spec.paths[path].parameters ?? []), ...(op.parameters ?? [])].map(deref).filter((p) => p.in === 'query');
  const refusal = (f: () => unknown) => {
    try {
      f();
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };

  it('are exactly those each route parses: no undocumented one is taken, no documented one refused', () => {
    expect(routeQueries.size).toBeGreaterThan(10);
    for (const { key, op, path } of specOperations()) {
      expect(Object.keys(schemaOf(key).shape).sort(), key).toEqual(documented(path, op).map((p) => p.name as string).sort());
    }
  });

  it('repeat only where documented as arrays, and are required where documented so', () => {
    for (const { key, op, path } of specOperations()) {
      for (const p of documented(path, op)) {
        const repeated = refusal(() => query(schemaOf(key), { [p.name]: ['1', '2'] }));
        if (deref(p.schema ?? {}).type === 'array') expect(repeated, `${key} ${p.name}`).not.toMatch(/given 2 times/);
        else expect(repeated, `${key} ${p.name}`).toBe(`query parameter "${p.name}" is given 2 times: give it once`);
        const absent = refusal(() => query(schemaOf(key), {}));
        expect(absent.includes(`"${p.name}"`), `${key} ${p.name} required`).toBe(Boolean(p.required));
      }
    }
  });

  it('are refused when unknown, on every route, before the route acts', async () => {
    for (const { key, method } of specOperations().filter((o) => !upgradeRoutes.some((r) => `${r.method} ${r.url}` === o.key))) {
      const url = key.split(' ')[1].replace(/:\w+/g, 'x');
      const res = await app.inject({ method: method.toUpperCase() as HTTPMethods, url: `${url}?zz=1` });
      expect(res.statusCode, key).toBe(400);
      expect(res.json().code, key).toBe('invalid');
      expect(res.json().message, key).toMatch(/unknown query parameter "zz"|^invalid request body/);
    }
  });
});

describe('openapi.yaml errors', () => {
  /** The ErrorCode union, read from its source: types do not exist at run time. */
  function sourceCodes(): string[] {
    const src = readFileSync(new URL('../core/errors.ts', import.meta.url), 'utf8');
    const union = /export type ErrorCode =([^;]*);/.exec(src)?.[1] ?? '';
    return [...union.matchAll(/'(\w+)'/g)].map((m) => m[1]);
  }

  it('lists exactly the codes of core/errors.ts', () => {
    const codes = sourceCodes();
    expect(codes.length).toBeGreaterThan(5);
    expect([...spec.components.schemas.ErrorCode.enum].sort()).toEqual(codes.sort());
  });

  it('gives each code the status api/errors.ts maps it to', () => {
    const map = spec.components.schemas.ErrorCode['x-http-status'] as Record<string, number>;
    expect(Object.keys(map).sort()).toEqual(sourceCodes().sort());
    for (const code of sourceCodes()) {
      expect(errorResponse(new HullError(code as ErrorCode, 'x')).status, code).toBe(map[code]);
    }
  });

  it('describes the body errors come in', async () => {
    const err = spec.components.schemas.Error;
    expect(err.required.sort()).toEqual(['code', 'message']);
    const res = await app.inject({ method: 'GET', url: '/v1/no-such-thing' });
    expect(res.statusCode).toBe(404);
    expect(Object.keys(res.json()).sort()).toEqual(['code', 'message']);
    expect(res.json().code).toBe('not_found');
    const bad = await app.inject({ method: 'POST', url: '/v1/containers', headers: { 'content-type': 'application/json' }, payload: '{' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('invalid');
    const stub = await app.inject({ method: 'GET', url: '/v1/containers' });
    expect(stub.statusCode).toBe(503);
    expect(stub.json()).toEqual({ code: 'unavailable', message: 'stub: list' });
  });
});

describe('openapi.yaml schemas', () => {
  const create = () => spec.components.schemas.CreateOptions as Json;
  const shape = CreateOptionsSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean; data?: unknown } }>;

  it('takes CreateOptions as the create body', () => {
    const body = spec.paths['/v1/containers'].post.requestBody;
    expect(body.required).toBe(true);
    expect(body.content['application/json'].schema.$ref).toBe('#/components/schemas/CreateOptions');
  });

  it('has the create body mirror CreateOptionsSchema: same fields, unknown ones refused', () => {
    expect(create().additionalProperties).toBe(false);
    expect(Object.keys(create().properties).sort()).toEqual(Object.keys(shape).sort());
  });

  it('requires exactly the create fields the schema requires, with the same defaults', () => {
    const required = Object.keys(shape).filter((k) => !shape[k].safeParse(undefined).success);
    expect([...(create().required ?? [])].sort()).toEqual(required.sort());
    for (const [k, field] of Object.entries(shape)) {
      const dflt = field.safeParse(undefined);
      const prop = create().properties[k];
      if (dflt.success && dflt.data !== undefined) expect(prop.default, k).toEqual(dflt.data);
      else expect(prop.default, k).toBeUndefined();
    }
  });

  it('lists the same restart policies as the schema', () => {
    const yamlEnum = create().properties.restartPolicy.enum as string[];
    for (const v of yamlEnum) expect(shape.restartPolicy.safeParse(v).success, v).toBe(true);
    expect(shape.restartPolicy.safeParse('sometimes').success).toBe(false);
    expect(spec.components.schemas.InstanceConfig.properties.restartPolicy.properties.name.enum).toEqual(yamlEnum);
  });

  it('describes every field of an instance state', () => {
    const state = spec.components.schemas.InstanceState;
    // Beyond what every new state has: what restart policies and health checks add while they apply.
    const optional = ['restartStreak', 'nextRestartAt', 'health'];
    expect(Object.keys(state.properties).sort()).toEqual([...Object.keys(newState()), ...optional].sort());
    expect([...state.required].sort()).toEqual(Object.keys(newState()).sort());
    expect(deref(state.properties.status).enum).toContain(newState().status);
  });

  it('describes every field of a container summary (the lists), requiring those always given', () => {
    const schema = spec.components.schemas.ContainerSummary;
    const inst = { id: 'c1', name: 'web', type: 'container', createdAt: '', state: newState(), config: { image: 'busybox', imageId: 'sha256:x', entrypoint: [], cmd: ['sh'], labels: {} } } as unknown as Instance;
    const given = Object.keys(summary(inst));
    expect([...schema.required].sort()).toEqual(given.filter((k) => k !== 'isolation').sort());
    // Beyond those: health, while a container with a health check runs.
    expect(Object.keys(schema.properties).sort()).toEqual([...given, 'health'].sort());
  });
});
