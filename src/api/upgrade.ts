import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorResponse } from './errors.js';
import { writeHttpError } from './streams.js';

type Handler = (req: IncomingMessage, socket: Duplex, params: Record<string, string>, query: URLSearchParams) => Promise<void>;

/** A small router for HTTP upgrade requests (fastify does not route them). */
export class UpgradeRouter {
  private routes: Array<{ method: string; re: RegExp; keys: string[]; handler: Handler }> = [];
  private open = new Set<Duplex>();

  /** End every stream still open (daemon shutdown). */
  closeAll(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  add(method: string, pattern: string, handler: Handler): void {
    const keys: string[] = [];
    const re = new RegExp(
      '^' +
        pattern.replace(/:([a-zA-Z]+)/g, (_m, k: string) => {
          keys.push(k);
          return '([^/]+)';
        }) +
        '$',
    );
    this.routes.push({ method, re, keys, handler });
  }

  handle(req: IncomingMessage, socket: Duplex): void {
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    const url = new URL(req.url ?? '/', 'http://hull');
    for (const r of this.routes) {
      const m = r.re.exec(url.pathname);
      if (!m || r.method !== req.method) continue;
      const params = Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(m[i + 1])]));
      r.handler(req, socket, params, url.searchParams).catch((e) => {
        const { status, body } = errorResponse(e);
        if (socket.writable) writeHttpError(socket, status, body);
      });
      return;
    }
    writeHttpError(socket, 404, { code: 'not_found', message: `no route for ${req.method} ${url.pathname}` });
  }
}
