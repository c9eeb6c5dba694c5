import type { ErrorCode } from '../core/errors.js';
import { HullError, toHullError } from '../core/errors.js';

/** The one map from error code to HTTP status. */
const STATUS: Record<ErrorCode, number> = {
  not_found: 404,
  conflict: 409,
  invalid: 400,
  wrong_state: 409,
  unavailable: 503,
  resource: 400,
  command_not_found: 400,
  command_not_executable: 400,
  internal: 500,
};

export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

export function errorResponse(e: unknown): { status: number; body: ErrorBody } {
  const he = toHullError(e);
  return { status: STATUS[he.code], body: { code: he.code, message: he.message } };
}

/**
 * Any error a request ends in, as its answer: a HullError by its code; one
 * the HTTP layer raised before the route (fastify's FST_ERR_*, a 4xx status:
 * malformed JSON, a body too large, an unsupported content type) as `invalid`
 * under the layer's own status; anything else is a bug, `internal` (500).
 */
export function httpError(e: unknown): { status: number; body: ErrorBody } {
  if (e instanceof HullError) return errorResponse(e);
  const fe = e as { code?: unknown; statusCode?: unknown; message?: unknown };
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 0;
  if (status >= 400 && status < 500) return { status, body: { code: status === 404 ? 'not_found' : 'invalid', message: clip(String(fe.message)) } };
  return errorResponse(e);
}

/** Fastify's messages quote the URL, which may be long. */
const clip = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}…` : s);
