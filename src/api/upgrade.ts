import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import { invalid } from '../core/errors.js';
import type { Logger } from '../engine/logger.js';
import { errorResponse } from './errors.js';
import { params, query, ref } from './parse.js';
import { isUpgraded, writeHttpError } from './streams.js';

type Handler<Q> = (req: IncomingMessage, socket: Duplex, params: Record<string, string>, query: Q) => Promise<void>;
interface Route {
  method: string;
  re: RegExp;
  params: z.ZodObject;
  query: z.ZodObject;
  handler: Handler<unknown>;
}

const NoQuery = z.object({}).strict();

/**
 * A small router for HTTP upgrade requests (fastify does not route them).
 * Whatever a request holds, it ends in the route's answer or an HTTP error on
 * its own socket: a malformed URL is a 400, a failed handler its error's
 * status, and a client gone mid-answer only closes its socket. Path and query
 * go through the same edge parser as fastify's routes (parse.ts).
 */
export class UpgradeRouter {
  private routes: Route[] = [];
  private open = new Set<Duplex>();

  constructor(private log?: Logger) {}

  /** End every stream still open (daemon shutdown). */
  closeAll(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  add<Q extends z.ZodObject = typeof NoQuery>(method: string, pattern: string, opts: { query?: Q }, handler: Handler<z.output<Q>>): void {
    const keys: string[] = [];
    const re = new RegExp(`^${pattern.replace(/:([a-zA-Z]+)/g, (_m, k: string) => (keys.push(k), '([^/]+)'))}$`);
    const ps = z.object(Object.fromEntries(keys.map((k) => [k, ref]))).strict();
    this.routes.push({ method, re, params: ps, query: opts.query ?? NoQuery, handler: handler as Handler<unknown> });
  }

  handle(req: IncomingMessage, socket: Duplex): void {
    // Node hands over the socket with no 'error' listener: without one, a client
    // that vanishes (EPIPE, ECONNRESET) would throw out of the event loop.
    socket.on('error', (e) => this.log?.debug({ err: String(e) }, 'upgraded connection failed'));
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    try {
      this.dispatch(req, socket);
    } catch (e) {
      this.fail(socket, e);
    }
  }

  private dispatch(req: IncomingMessage, socket: Duplex): void {
    const url = req.url ?? '/';
    const at = url.indexOf('?');
    const path = at < 0 ? url : url.slice(0, at);
    for (const r of this.routes) {
      const m = r.re.exec(path);
      if (!m || r.method !== req.method) continue;
      const raw = Object.fromEntries(Object.keys(r.params.shape).map((k, i) => [k, decodeSegment(m[i + 1])]));
      const p = params(r.params, raw) as Record<string, string>;
      const q = query(r.query, new URLSearchParams(at < 0 ? '' : url.slice(at + 1)));
      r.handler(req, socket, p, q).catch((e: unknown) => this.fail(socket, e));
      return;
    }
    writeHttpError(socket, 404, { code: 'not_found', message: `no route for ${req.method} ${path.slice(0, 200)}` });
  }

  /** Answer a failure: an HTTP error before the 101, a closed stream after it. */
  private fail(socket: Duplex, e: unknown): void {
    const { status, body } = errorResponse(e);
    if (status >= 500) this.log?.error({ err: e }, 'upgrade request failed');
    if (isUpgraded(socket)) socket.end();
    else writeHttpError(socket, status, body);
  }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw invalid(`malformed percent-encoding in the URL path: "${s.slice(0, 100)}"`);
  }
}
