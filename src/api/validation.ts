import type { FastifyInstance, FastifyPluginAsync, FastifySchema, FastifyTypeProvider, RawServerDefault, RouteOptions } from 'fastify';
import { z } from 'zod';
import { body, params, query, ref } from './parse.js';

/**
 * Fastify's side of the edge parser (parse.ts): a route declares zod schemas
 * as `schema: { params, querystring, body }`, fastify runs them before the
 * handler, and the handler gets the parsed values, typed:
 *
 *   app.post('/v1/containers/:ref/stop', { schema: { querystring: StopQuery } }, async (req) => req.query.t);
 *
 * A route that declares no query schema takes no query parameters, and one
 * that declares no params schema gets one path parameter string per `:name`
 * in its URL: nothing reaches a handler unchecked.
 */
export interface ZodProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  serializer: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
}

/** A route file: a fastify plugin whose routes are typed by their zod schemas. */
export type Routes = FastifyPluginAsync<Record<never, never>, RawServerDefault, ZodProvider>;

const NoQuery = z.object({}).strict();

/** Install the edge parser on `app`: before any route is added. */
export function strictEdge(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => (data: unknown) => {
    try {
      return { value: parsePart(httpPart, schema as z.ZodType, data) };
    } catch (error) {
      return { error: error as Error };
    }
  });
  // A new object: routes may share one schema object, which must not change under them.
  app.addHook('onRoute', (route: RouteOptions) => {
    route.schema = { querystring: NoQuery, params: paramsOf(route.url ?? ''), ...route.schema } satisfies FastifySchema;
  });
}

function parsePart(part: string | undefined, schema: z.ZodType, data: unknown): unknown {
  if (part === 'querystring') return query(schema as z.ZodObject, data as Record<string, unknown>);
  if (part === 'params') return params(schema as z.ZodObject, data);
  if (part === 'body') return body(schema, data);
  return schema.parse(data);
}

/** One non-empty string per `:name` of a route's URL. */
function paramsOf(url: string): z.ZodObject {
  const keys = [...url.matchAll(/:(\w+)/g)].map((m) => m[1]);
  return z.object(Object.fromEntries(keys.map((k) => [k, ref]))).strict();
}
