import { readFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { Client } from '../cli/client.js';
import type { Logger } from '../engine/logger.js';
import { CSRF_HEADER, DashboardAuth, loadToken, newToken } from './auth.js';
import { bridgeConsole, type ConsoleRequest } from './consoles.js';
import { json, proxyToApi } from './proxy.js';

export interface DashboardOptions {
  /** Where to listen: an address and a port (0: any free one). */
  listen: { host: string; port: number };
  /** The daemon's API socket, which the dashboard passes everything to. */
  socketPath: string;
  /** The daemon's root, which keeps the token. */
  root: string;
  /** The built browser app (dist/web: index.html, app.js, app.css). */
  assets: string;
  log: Logger;
}

export interface Dashboard {
  /** http://HOST:PORT/ as listened on. */
  url: string;
  /** The link that signs a browser in. */
  readonly loginUrl: string;
  /** A new token: every browser signed in with the old one is out, its consoles and streams cut. */
  rotate(): Promise<void>;
  close(): Promise<void>;
}

const ASSETS: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/app.css': ['app.css', 'text/css; charset=utf-8'],
};

/** The page may load only its own script and style, talk only to this server, and never be framed. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const CONSOLE_PATH = /^\/ws\/containers\/([^/]+)\/(exec|attach)$/;

/**
 * The web dashboard: the browser app, and the daemon's REST API passed through
 * to its socket (proxy.ts), on a TCP address (loopback by default). Nothing
 * here reaches the engine: the dashboard can do what the API can, no more.
 * Sign-in, host and CSRF checks are in auth.ts; consoles (exec, attach) are
 * WebSockets bridged to the API's upgrades (consoles.ts).
 */
export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const token = await loadToken(o.root);
  // Made once the port is known (port 0 picks one): the Host check names it.
  let auth = new DashboardAuth(token, o.listen);
  const client = new Client(o.socketPath);
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, handleProtocols: (offered) => (offered.has('hull.v1') ? 'hull.v1' : false) });
  const server = http.createServer((req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    serve(req, res).catch((e: Error) => {
      o.log.warn({ err: String(e), url: req.url?.slice(0, 200) }, 'dashboard request failed');
      if (!res.headersSent) json(res, 500, { code: 'internal', message: e.message });
      else res.destroy();
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (!auth.hostAllowed(req)) return json(res, 403, { code: 'forbidden', message: 'this dashboard answers only to its own address (Host header)' });
    if (url.pathname.startsWith('/v1/') || url.pathname === '/_ping') {
      // The dashboard's own sign-in is the host's business (`hull dashboard`), not the page's.
      if (url.pathname.startsWith('/v1/dashboard')) return json(res, 403, { code: 'forbidden', message: "the dashboard's sign-in is managed on the host: hull dashboard [--rotate]" });
      if (!auth.signedIn(req)) return json(res, 401, { code: 'unauthorized', message: 'not signed in: run `hull dashboard` on the host and open the link it prints' });
      if (req.method !== 'GET' && req.method !== 'HEAD' && (req.headers[CSRF_HEADER] !== '1' || !auth.sameOrigin(req, false))) {
        return json(res, 403, { code: 'forbidden', message: `a change needs the ${CSRF_HEADER} header from the dashboard's own page` });
      }
      return proxyToApi(o.socketPath, req, res, (e) => o.log.debug({ err: String(e) }, 'dashboard proxy: API call failed'));
    }
    const asset = ASSETS[url.pathname];
    if (!asset || (req.method !== 'GET' && req.method !== 'HEAD')) return json(res, 404, { code: 'not_found', message: `no page ${url.pathname}` });
    const body = await readFile(join(o.assets, asset[0])).catch(() => undefined);
    if (!body) return json(res, 503, { code: 'unavailable', message: 'the dashboard is not built: run `npm run build`' });
    res.writeHead(200, { 'content-type': asset[1], 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (!auth.hostAllowed(req) || !auth.signedIn(req) || !auth.sameOrigin(req, true)) return refuse(socket, 403, 'Forbidden');
    let r: ConsoleRequest | undefined;
    try {
      const url = new URL(req.url ?? '/', 'http://dashboard');
      const m = CONSOLE_PATH.exec(url.pathname);
      if (m && req.headers.upgrade?.toLowerCase() === 'websocket') r = consoleRequest(m, url.searchParams);
    } catch {
      return refuse(socket, 400, 'Bad Request');
    }
    if (!r) return refuse(socket, 404, 'Not Found');
    const request = r;
    // The token came as a subprotocol; the one this server speaks is answered (ws: handleProtocols).
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', (e) => o.log.debug({ err: String(e) }, 'dashboard console socket failed'));
      void bridgeConsole(client, ws, request);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.listen.port, o.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => o.log.warn({ err: String(e) }, 'dashboard server error'));
  const a = server.address() as AddressInfo;
  auth = new DashboardAuth(token, { host: o.listen.host, port: a.port });
  const url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/`;
  return {
    url,
    get loginUrl() {
      return `${url}#token=${auth.token}`;
    },
    rotate: async () => {
      auth.token = await newToken(o.root);
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
    },
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      client.close();
    },
  };
}

function consoleRequest(m: RegExpExecArray, q: URLSearchParams): ConsoleRequest {
  const ref = decodeURIComponent(m[1]);
  if (!ref || ref.length > 128) throw new Error('bad ref');
  const size = (k: string) => Math.max(0, Math.min(1000, Math.floor(Number(q.get(k) ?? 0)) || 0));
  const cmd = q.get('cmd') ? (JSON.parse(q.get('cmd') as string) as unknown) : ['/bin/sh'];
  if (!Array.isArray(cmd) || !cmd.length || cmd.length > 64 || !cmd.every((c) => typeof c === 'string' && c.length <= 4096)) throw new Error('bad cmd');
  return { kind: m[2] as 'exec' | 'attach', ref, rows: size('rows'), cols: size('cols'), cmd: cmd as string[] };
}

function refuse(socket: Duplex, status: number, text: string): void {
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}
