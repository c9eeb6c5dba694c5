import { request } from 'node:http';
import { connect } from 'node:net';

/**
 * The daemon's API at the HTTP level, over its unix socket: what a client
 * other than Hull's CLI (docker's, curl, a fuzzer) sends.
 */
export interface ApiAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed JSON body, when it is JSON. */
  json?: { code?: string; message?: string } & Record<string, unknown>;
}

/** One request through node:http; `timeoutMs` bounds it (rejects on timeout). */
export function api(socketPath: string, method: string, path: string, o: { body?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    const headers = { Host: 'hull', ...(o.body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(o.body)) } : {}), ...o.headers };
    const req = request({ socketPath, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: ApiAnswer['json'];
        try {
          json = (res.headers['content-type'] ?? '').includes('json') ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.setTimeout(o.timeoutMs ?? 10_000, () => req.destroy(new Error(`${method} ${path}: no answer in ${o.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

/**
 * Raw bytes to the socket, for what node:http will not send (bad escapes in
 * the request line, broken headers, upgrades): resolves with everything read
 * until the server closes, `timeoutMs` passes, or after `destroyAfterMs` (the
 * client vanishing; 0: right after the bytes are written).
 */
export function rawSend(
  socketPath: string,
  bytes: string | Buffer,
  o: { timeoutMs?: number; destroyAfterMs?: number } = {},
): Promise<{ text: string; status: number; timedOut: boolean; /** The server closed before it took all the bytes. */ cutOff: boolean }> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    let text = '';
    let timedOut = false;
    let cutOff = false;
    const done = () => {
      clearTimeout(timer);
      // The final status: past any 100 Continue.
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text.replace(/^HTTP\/1\.1 100 [^\r]*\r\n\r\n/, ''));
      resolve({ text, status: m ? Number(m[1]) : 0, timedOut, cutOff });
    };
    const timer = setTimeout(() => {
      timedOut = o.destroyAfterMs === undefined;
      s.destroy();
    }, o.destroyAfterMs ?? o.timeoutMs ?? 10_000);
    s.on('data', (b: Buffer) => (text += b.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', done);
    s.write(bytes, (err) => {
      if (err) cutOff = true;
      if (o.destroyAfterMs === 0) s.destroy();
    });
  });
}

/** A request line, headers and body as bytes, Content-Length filled in when a body is given. */
export function httpBytes(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Buffer {
  const h = { Host: 'hull', Connection: 'close', ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}), ...headers };
  const head = `${method} ${path} HTTP/1.1\r\n${Object.entries(h)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body ?? '')]);
}

export const UPGRADE = { Connection: 'Upgrade', Upgrade: 'tcp' };
