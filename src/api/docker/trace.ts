import { appendFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { apiVersion } from './api-version.js';

/**
 * Which endpoints docker's clients call, for docs/docker-compat.md: with
 * HULL_DOCKER_TRACE set to a file (the tests set it), every request to the
 * Docker socket appends one JSON line: method, endpoint (the route, with
 * docker's `{name}` for image names), status and the client's User-Agent.
 * Unset (as in production), nothing is written.
 */
const file = process.env.HULL_DOCKER_TRACE;
const endpoints = new WeakMap<IncomingMessage, string>();

/** Name the endpoint of a request the router matched loosely (`/images/*`). */
export function traceAs(req: IncomingMessage, endpoint: string): void {
  endpoints.set(req, endpoint);
}

export function trace(req: IncomingMessage, route: string | undefined, status: number): void {
  if (!file) return;
  const line = { method: req.method, endpoint: endpoints.get(req) ?? route ?? '(no route)', status, client: String(req.headers['user-agent'] ?? ''), version: apiVersion(req) };
  try {
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  } catch {
    // tracing is for the docs; it never fails a request
  }
}
