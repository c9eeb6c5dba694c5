import type { ErrorCode } from '../core/errors.js';
import { toHullError } from '../core/errors.js';

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
