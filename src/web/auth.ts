import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';

/** Every request that changes something carries this header: a cross-site form or image cannot set it (CSRF). */
export const CSRF_HEADER = 'x-hull-dashboard';

/**
 * Who may use the dashboard. Whoever can read the daemon's root (root) gets
 * the token (`hull dashboard` prints a link that carries it in its fragment);
 * the page keeps it in its own origin's storage and sends it as
 * `Authorization: Bearer` (a console WebSocket: as the subprotocol
 * `bearer.TOKEN`). Never a cookie: a browser sends a host's cookies to every
 * port of it, so a local user's web server on another port of 127.0.0.1
 * would receive them. Every request must also name this server in its Host
 * header when it listens on loopback (a DNS-rebinding page names its own
 * host), and a WebSocket must come from this server's own origin.
 *
 *   const auth = new DashboardAuth(await loadToken(root), listen);
 *   if (!auth.signedIn(req)) return deny(res);
 */
export class DashboardAuth {
  private hosts: Set<string> | undefined;

  constructor(
    /** The one token (rotated by `hull dashboard --rotate`). */
    public token: string,
    listen: { host: string; port: number },
  ) {
    const p = listen.port;
    this.hosts = isLoopback(listen.host) ? new Set([`${bracket(listen.host)}:${p}`, `localhost:${p}`, `127.0.0.1:${p}`, `[::1]:${p}`]) : undefined;
  }

  /** The Host header names this server (always true when it listens beyond loopback: the token is the guard there). */
  hostAllowed(req: IncomingMessage): boolean {
    const host = req.headers.host?.toLowerCase();
    return !!host && (!this.hosts || this.hosts.has(host));
  }

  /** The request carries the token: `Authorization: Bearer TOKEN`, or (a WebSocket) the subprotocol `bearer.TOKEN`. */
  signedIn(req: IncomingMessage): boolean {
    const bearer = /^Bearer ([0-9a-f]{1,128})$/.exec(req.headers.authorization ?? '')?.[1];
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    return this.matches(bearer ?? offered.find((p) => p.startsWith('bearer.'))?.slice('bearer.'.length));
  }

  matches(given: string | undefined): boolean {
    if (!given) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** A browser's request from this server's own page: its Origin, when it sends one, is this server. */
  sameOrigin(req: IncomingMessage, required: boolean): boolean {
    const origin = req.headers.origin;
    if (!origin) return !required;
    try {
      return new URL(origin).host.toLowerCase() === req.headers.host?.toLowerCase();
    } catch {
      return false;
    }
  }

}

/** The dashboard's token, made once and kept in <root>/dashboard.token (root only), so links and sessions outlive a restart. */
export async function loadToken(root: string): Promise<string> {
  const file = join(root, 'dashboard.token');
  const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (/^[0-9a-f]{64}$/.test(kept)) return kept;
  return newToken(root);
}

/** A new token in <root>/dashboard.token, written whole (a temporary file renamed over it), root only. */
export async function newToken(root: string): Promise<string> {
  const file = join(root, 'dashboard.token');
  const token = randomBytes(32).toString('hex');
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${token}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
  return token;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
