/**
 * HullError: every failure that crosses a layer boundary carries one of a few
 * stable codes. The API maps codes to HTTP status in exactly one place
 * (src/api/errors.ts); the CLI prints the message and exits non-zero.
 */
export type ErrorCode =
  | 'not_found'
  | 'conflict' // a name in use, an object in use
  | 'invalid' // bad input: malformed size, unknown flag value, bad manifest
  | 'wrong_state' // an action not allowed in the object's lifecycle phase
  | 'unavailable' // a runtime or tool that is not installed or not usable here
  | 'resource' // not enough memory, disk, a limit too small
  | 'command_not_found' // the container's program does not exist (exit 127)
  | 'command_not_executable' // the container's program cannot be run (exit 126)
  | 'internal';

export class HullError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HullError';
  }

  /** Prefix the message with context, keeping the code: `container "web": not found`. */
  wrap(context: string): HullError {
    return new HullError(this.code, `${context}: ${this.message}`, this.details);
  }
}

export const notFound = (what: string) => new HullError('not_found', `${what} not found`);
export const conflict = (msg: string) => new HullError('conflict', msg);
export const invalid = (msg: string) => new HullError('invalid', msg);
export const wrongState = (msg: string) => new HullError('wrong_state', msg);

export function isHullError(e: unknown, code?: ErrorCode): e is HullError {
  return e instanceof HullError && (code === undefined || e.code === code);
}

/** Turn anything thrown into a HullError, keeping a HullError as it is. */
export function toHullError(e: unknown): HullError {
  if (e instanceof HullError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new HullError('internal', msg);
}
