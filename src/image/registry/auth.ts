import { request } from 'undici';
import { HullError } from '../../core/errors.js';
import { type Challenge, parseChallenges } from './challenge.js';
import type { Credential, CredentialStore } from './credentials.js';
import type { Endpoints } from './endpoint.js';

const MAX_TOKEN_RESPONSE = 1024 * 1024;

/** A failed authentication, with the hint that helps. */
export function unauthorized(host: string, why: string): HullError {
  return new HullError('invalid', `registry ${host}: unauthorized: ${why}`);
}

/**
 * Authorizer turns a registry's 401 challenge into an Authorization header
 * and remembers it, so later requests for the same host and scope carry it
 * from the start:
 *   - Basic: the stored login for the host;
 *   - Bearer (docker's token flow): GET the challenge's realm with its
 *     `service` and the request's scopes, sending the login (if any) as
 *     Basic auth, and use the `token` (or `access_token`) it returns.
 * Scopes are `repository:<path>:pull` or `...:pull,push`.
 *
 *   let h = auth.cached(host, scopes);            // undefined at first
 *   // ... request, get a 401 ...
 *   h = await auth.answer(host, scopes, res.headers['www-authenticate']);
 */
export class Authorizer {
  private readonly tokens = new Map<string, { header: string; expires: number }>();
  private readonly basicHosts = new Map<string, string>();
  /** Token requests in flight: parallel requests that all got a 401 share one. */
  private readonly fetching = new Map<string, Promise<{ header: string; expires: number }>>();

  constructor(
    private readonly creds: CredentialStore,
    private readonly endpoints: Endpoints,
  ) {}

  cached(host: string, scopes: string[]): string | undefined {
    const t = this.tokens.get(key(host, scopes));
    if (t && t.expires > Date.now()) return t.header;
    return this.basicHosts.get(host);
  }

  /**
   * Answer a challenge to a request that carried `rejected` (or no header);
   * `cred` overrides the stored login (login uses it to check new credentials).
   */
  async answer(host: string, scopes: string[], header: string | string[] | undefined, rejected?: string, cred?: Credential | null, signal?: AbortSignal): Promise<string> {
    const challenges = parseChallenges(header);
    const login = cred === undefined ? await this.creds.get(host) : (cred ?? undefined);
    // A parallel request may have fetched a fresh token since this one was sent (checked after the
    // last await above, so nothing can slip in between this check and joining or starting a fetch).
    const current = cred === undefined ? this.cached(host, scopes) : undefined;
    if (current && current !== rejected) return current;
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      if (cred !== undefined) return (await this.fetchToken(host, bearer, scopes, login, signal)).header;
      const k = key(host, scopes);
      let p = this.fetching.get(k);
      if (!p) {
        p = this.fetchToken(host, bearer, scopes, login, signal).finally(() => this.fetching.delete(k));
        this.fetching.set(k, p);
      }
      const got = await p;
      this.tokens.set(k, got);
      return got.header;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (!login) throw unauthorized(host, `authentication required (run: hull login ${host})`);
      const h = basicHeader(login);
      if (cred === undefined) this.basicHosts.set(host, h);
      return h;
    }
    throw unauthorized(host, `authentication required, but the registry offers no scheme Hull supports (${String(header ?? 'no WWW-Authenticate header')})`);
  }

  /** Forget what was learnt for a host (after logout, or a login with other credentials). */
  forget(host: string): void {
    this.basicHosts.delete(host);
    for (const k of this.tokens.keys()) if (k.startsWith(`${host} `)) this.tokens.delete(k);
  }

  private async fetchToken(host: string, c: Challenge, scopes: string[], login: Credential | undefined, signal?: AbortSignal) {
    const realm = c.params.realm;
    if (!realm || !/^https?:\/\//.test(realm)) throw unauthorized(host, `the bearer challenge has no usable realm (${realm ?? 'none'})`);
    const url = new URL(realm);
    if (url.protocol === 'http:' && !this.endpoints.isInsecure(url.host)) throw unauthorized(host, `refusing to send credentials to the plain-HTTP token server ${url.origin}`);
    if (c.params.service) url.searchParams.set('service', c.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (login) url.searchParams.set('account', login.username);
    const headers: Record<string, string> = login ? { authorization: basicHeader(login) } : {};
    const dispatcher = this.endpoints.isInsecure(url.host) ? this.endpoints.unverified : this.endpoints.secure;
    let res;
    try {
      res = await request(url, { headers, dispatcher, signal, maxRedirections: 3 });
    } catch (e) {
      throw new HullError('unavailable', `registry ${host}: token server ${url.origin}: ${(e as Error).message}`);
    }
    const text = await readLimited(res.body, MAX_TOKEN_RESPONSE);
    if (res.statusCode === 401 || res.statusCode === 403) throw unauthorized(host, login ? 'incorrect username or password' : `authentication required (run: hull login ${host})`);
    if (res.statusCode !== 200) throw new HullError('unavailable', `registry ${host}: token server ${url.origin} answered ${res.statusCode}`);
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(text);
    } catch {
      throw new HullError('invalid', `registry ${host}: token server ${url.origin} sent something that is not JSON`);
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new HullError('invalid', `registry ${host}: token server ${url.origin} sent no token`);
    // The spec's default lifetime is 60 s; renew a little early.
    const life = Math.max(10, (body.expires_in ?? 60) - 5);
    return { header: `Bearer ${token}`, expires: Date.now() + life * 1000 };
  }
}

const key = (host: string, scopes: string[]) => `${host} ${[...scopes].sort().join(' ')}`;

export const basicHeader = (c: Credential) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

type Body = AsyncIterable<Uint8Array> & { destroy?: () => void };

export async function readLimited(body: Body, max: number): Promise<string> {
  return (await readBytes(body, max)).toString();
}

/** A whole (small) response body, refused once it passes `max` bytes. */
export async function readBytes(body: Body, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > max) {
      body.destroy?.();
      throw new HullError('invalid', `a registry response was larger than ${max} bytes`);
    }
    chunks.push(Buffer.from(c));
  }
  return Buffer.concat(chunks);
}
