import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { type Dispatcher, request } from 'undici';
import { type ErrorCode, HullError } from '../../core/errors.js';
import { type Authorizer, readLimited, unauthorized } from './auth.js';
import type { Credential } from './credentials.js';
import type { Endpoints } from './endpoint.js';

export interface RegistryRequest {
  method: Dispatcher.HttpMethod;
  /** A path under the registry (`/v2/x/y/manifests/1`) or an absolute URL (an upload's Location). */
  path: string;
  /** Token scopes this request needs, e.g. `repository:x/y:pull`. */
  scopes: string[];
  headers?: Record<string, string>;
  /** A Buffer, or a function giving a fresh stream (called again if the request is retried after a 401). */
  body?: Buffer | (() => Readable);
  /** Follow redirects (blob downloads are sent to storage this way), dropping credentials across origins. */
  follow?: boolean;
  signal?: AbortSignal;
  /** Override the stored login (login checks new credentials); null: send none. */
  cred?: Credential | null;
}

export interface RegistryResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Dispatcher.ResponseData['body'];
  /** The URL that answered, after redirects. */
  url: URL;
}

const MAX_REDIRECTS = 5;
const MAX_ERROR_BODY = 64 * 1024;

/**
 * RegistryClient: HTTP to one registry with its auth flow. `send` adds the
 * cached Authorization header, and on a 401 answers the challenge once and
 * retries; it never sends the registry's credentials to another origin on a
 * redirect. `check` turns an error status into a HullError carrying the
 * registry's own error message.
 */
export class RegistryClient {
  constructor(
    readonly host: string,
    private readonly endpoints: Endpoints,
    private readonly auth: Authorizer,
  ) {}

  async send(req: RegistryRequest): Promise<RegistryResponse> {
    const ep = await this.endpoints.resolve(this.host);
    const url = new URL(req.path, ep.base);
    let authz = req.cred === undefined ? this.auth.cached(this.host, req.scopes) : undefined;
    let res = await this.once(req, url, authz, ep.dispatcher);
    if (res.status === 401 && req.cred !== null) {
      const challenge = res.headers['www-authenticate'];
      await res.body.dump();
      authz = await this.auth.answer(this.host, req.scopes, challenge, authz, req.cred, req.signal);
      res = await this.once(req, url, authz, ep.dispatcher);
      if (res.status === 401) {
        await res.body.dump();
        throw unauthorized(this.host, req.cred ? 'incorrect username or password' : `access denied (run: hull login ${this.host}, with a login that may use this repository)`);
      }
    }
    return res;
  }

  /** Throw for an error status (consuming the body); `what` names the thing asked for. */
  async check(res: RegistryResponse, what: string, ok: number[]): Promise<void> {
    if (ok.includes(res.status)) return;
    const text = await readLimited(res.body, MAX_ERROR_BODY).catch(() => '');
    const detail = registryErrors(text) || (text.trim().slice(0, 200) || `HTTP ${res.status}`);
    throw new HullError(codeFor(res.status), `registry ${this.host}: ${what}: ${detail}`);
  }

  private async once(req: RegistryRequest, start: URL, authz: string | undefined, dispatcher: Dispatcher): Promise<RegistryResponse> {
    let url = start;
    for (let hop = 0; ; hop++) {
      const sameOrigin = url.origin === start.origin;
      const headers: Record<string, string> = { ...req.headers };
      if (authz && sameOrigin) headers.authorization = authz;
      const body = typeof req.body === 'function' ? req.body() : req.body;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, { method: req.method, headers, body, dispatcher: sameOrigin ? dispatcher : this.endpoints.secure, signal: req.signal });
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw new HullError('unavailable', `registry ${this.host}: cancelled`);
        throw new HullError('unavailable', `registry ${this.host}: ${req.method} ${url.pathname}: ${netMessage(e)}`);
      }
      const location = res.headers.location;
      if (!req.follow || ![301, 302, 303, 307, 308].includes(res.statusCode) || typeof location !== 'string') {
        return { status: res.statusCode, headers: res.headers, body: res.body, url };
      }
      await res.body.dump();
      if (hop >= MAX_REDIRECTS) throw new HullError('unavailable', `registry ${this.host}: more than ${MAX_REDIRECTS} redirects for ${start.pathname}`);
      url = new URL(location, url);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new HullError('invalid', `registry ${this.host}: redirect to unsupported URL ${url.protocol}`);
    }
  }
}

function codeFor(status: number): ErrorCode {
  if (status === 404) return 'not_found';
  if (status === 401 || status === 403) return 'invalid';
  if (status === 429 || status >= 500) return 'unavailable';
  return 'invalid';
}

/** The distribution spec's error body: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}`. */
function registryErrors(text: string): string {
  try {
    const errs = (JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> }).errors ?? [];
    return errs.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
  } catch {
    return '';
  }
}

function netMessage(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.cause?.code ?? err.code;
  if (code === 'ECONNREFUSED') return 'connection refused (is the registry running?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === 'EPROTO' || /wrong version number|WRONG_VERSION/i.test(err.cause?.message ?? err.message ?? '')) {
    return 'TLS handshake failed: if this registry speaks plain HTTP, start the daemon with --insecure-registry HOST:PORT';
  }
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) return `TLS certificate not trusted (${code}); for a test registry, start the daemon with --insecure-registry`;
  return err.cause?.message ?? err.message ?? String(e);
}
