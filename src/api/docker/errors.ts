import { isHullError, toHullError, type ErrorCode } from '../../core/errors.js';

/**
 * Errors on the Docker socket: `{"message": …}` with dockerd's status codes,
 * which its clients act on (a 404 on create makes the CLI pull the image, a
 * 409 on create makes compose pick another name, a 304 on start/stop means
 * "already"). Hull's codes map here; what only docker has (304, 501) is a
 * DockerError.
 */
export class DockerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'DockerError';
  }
}

const STATUS: Record<ErrorCode, number> = {
  not_found: 404,
  conflict: 409,
  invalid: 400,
  wrong_state: 409,
  unavailable: 500,
  resource: 400,
  // dockerd answers a program that cannot be run with 400; the CLI reads the
  // runtime's words ("executable file not found", "permission denied") for 127/126.
  command_not_found: 400,
  command_not_executable: 400,
  internal: 500,
};

export function dockerErrorResponse(e: unknown): { status: number; message: string } {
  if (e instanceof DockerError) return { status: e.status, message: e.message };
  const he = toHullError(e);
  return { status: STATUS[he.code], message: withRuntimeWords(he.code, he.message) };
}

/**
 * docker's CLI gives 127 or 126 for a program that cannot run by the words
 * of the runtime's error ("executable file not found", "permission
 * denied", case and all); Hull's runtimes word it their own way.
 */
function withRuntimeWords(code: ErrorCode, message: string): string {
  if (code === 'command_not_found' && !/executable file not found|no such file or directory/.test(message)) return `${message}: exec: executable file not found in $PATH`;
  if (code === 'command_not_executable' && !message.includes('permission denied')) return `${message}: exec: permission denied`;
  return message;
}

/** What docker says Hull cannot do: 501, with the feature named. */
export const notSupported = (what: string) => new DockerError(501, `${what} is not supported by Hull`);

/** Swarm-only endpoints, answered as a daemon that is not in a swarm answers them. */
export const notSwarmManager = () =>
  new DockerError(503, 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');

/**
 * Run a lookup, giving a not-found docker's own words (`No such container: web`),
 * which scripts and clients match on.
 */
export async function orNoSuch<T>(what: string, ref: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isHullError(e, 'not_found')) throw new DockerError(404, `No such ${what}: ${ref}`);
    throw e;
  }
}
