import { showError, showSignedOut } from './banner.js';
import { authHeader, forgetToken } from './session.js';

/**
 * Calls to Hull's API through the dashboard's server (same origin, the token
 * as a bearer: session.ts). Every request carries X-Hull-Dashboard (the
 * server's CSRF guard refuses others); a 401 means the token is not (or no
 * longer) the daemon's; other failures are the
 * API's `{code, message}`, thrown as ApiError.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const enc = encodeURIComponent;

export async function request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { 'X-Hull-Dashboard': '1', ...authHeader() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', signal });
  if (!res.ok) throw await toError(res);
  return res;
}

async function toError(res: Response): Promise<ApiError> {
  if (res.status === 401) {
    forgetToken();
    showSignedOut();
  }
  const text = await res.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof parsed.message === 'string') return new ApiError(res.status, String(parsed.code ?? 'http'), parsed.message);
  } catch {
    // not JSON: fall through to the status line
  }
  return new ApiError(res.status, 'http', `${res.status} ${res.statusText || text.slice(0, 200)}`.trim());
}

export const getJson = async <T>(path: string, signal?: AbortSignal): Promise<T> => (await request('GET', path, undefined, signal)).json() as Promise<T>;

/** POST; the JSON answer, or undefined for 204 / an empty body. */
export async function post<T = unknown>(path: string, body?: unknown): Promise<T | undefined> {
  const res = await request('POST', path, body);
  const text = await res.text();
  return text ? (JSON.parse(text) as T) : undefined;
}

export const del = async (path: string): Promise<void> => {
  await request('DELETE', path);
};

/** Run an action; show its failure in the banner (and rethrow, so callers can stop). */
export async function act<T>(what: () => Promise<T>): Promise<T> {
  try {
    return await what();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) showError(messageOf(err));
    throw err;
  }
}

export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
