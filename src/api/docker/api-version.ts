import type { IncomingMessage } from 'node:http';
import { DockerError } from './errors.js';

/**
 * Engine API versions, as docker negotiates them: a client first asks
 * `HEAD /_ping`, reads `Api-Version` (the newest this server speaks) and
 * then prefixes every path with the lower of that and its own (`/v1.50/…`).
 * An unversioned path means the newest. Clients older than MIN_API are
 * refused, as dockerd refuses them, and so are clients newer than MAX_API:
 * Hull has not been checked against what they would send.
 */
export const MIN_API = '1.24';
/** The newest version the clients Hull is tested with ask for (docker 28.2's CLI). */
export const MAX_API = '1.50';

const PREFIX_RE = /^\/v(\d+\.\d+)(?=\/|$)/;
const versions = new WeakMap<IncomingMessage, string>();

/** Compare two `major.minor` versions: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am - bm || an - bn;
}

/**
 * fastify's rewriteUrl (and the upgrade dispatch): the path without its
 * version prefix; the version is kept for `apiVersion(req)`. A version out
 * of range is remembered as such and refused by `checkApiVersion`.
 */
export function stripVersion(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const m = PREFIX_RE.exec(url);
  versions.set(req, m ? m[1] : MAX_API);
  return m ? url.slice(m[0].length) || '/' : url;
}

/** The version a request was made for. */
export function apiVersion(req: IncomingMessage): string {
  return versions.get(req) ?? MAX_API;
}

/** True when the request's version is `v` or newer (for shapes that changed). */
export function atLeast(req: IncomingMessage, v: string): boolean {
  return compareVersions(apiVersion(req), v) >= 0;
}

/** Refuse a version this server does not speak, with dockerd's words. */
export function checkApiVersion(req: IncomingMessage): void {
  const v = apiVersion(req);
  if (compareVersions(v, MAX_API) > 0) throw new DockerError(400, `client version ${v} is too new. Maximum supported API version is ${MAX_API}`);
  if (compareVersions(v, MIN_API) < 0) {
    throw new DockerError(400, `client version ${v} is too old. Minimum supported API version is ${MIN_API}, please upgrade your client to a newer version`);
  }
}
