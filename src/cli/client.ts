import http from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * The CLI's only way to Hull: HTTP over the daemon's unix socket. Plain calls
 * return parsed JSON; `upgrade` opens a raw stream (attach, exec) the way
 * docker's client does; `stream` reads a long response (logs -f, events).
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

export class Client {
  private agent: http.Agent;
  constructor(readonly socketPath: string) {
    this.agent = new http.Agent({ keepAlive: true });
  }

  private options(method: string, path: string, headers: Record<string, string> = {}): http.RequestOptions {
    return { socketPath: this.socketPath, method, path, headers: { Host: 'hull', ...headers }, agent: this.agent };
  }

  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = payload ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) } : {};
    const res = await this.send(this.options(method, path, headers), payload);
    const text = await readAll(res);
    const data = text && (res.headers['content-type'] ?? '').includes('json') ? JSON.parse(text) : text;
    if ((res.statusCode ?? 500) >= 400) throw new ApiError(res.statusCode ?? 500, data?.code ?? 'internal', data?.message ?? String(text));
    return data as T;
  }

  async stream(method: string, path: string, body?: NodeJS.ReadableStream, contentType?: string): Promise<http.IncomingMessage> {
    const res = await this.send(this.options(method, path, contentType ? { 'Content-Type': contentType } : {}), body);
    if ((res.statusCode ?? 500) >= 400) {
      const text = await readAll(res);
      const data = safeJson(text);
      throw new ApiError(res.statusCode ?? 500, data?.code ?? 'internal', data?.message ?? text);
    }
    return res;
  }

  /** POST with `Upgrade: tcp`; resolves with the raw duplex socket after 101. */
  upgrade(path: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const req = http.request({ ...this.options('POST', path, { Connection: 'Upgrade', Upgrade: 'tcp' }), agent: false });
      req.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', async (res) => {
        const text = await readAll(res);
        const data = safeJson(text);
        reject(new ApiError(res.statusCode ?? 500, data?.code ?? 'internal', data?.message ?? text));
      });
      req.on('error', (e) => reject(connectError(e, this.socketPath)));
      req.end();
    });
  }

  private send(opts: http.RequestOptions, body?: string | NodeJS.ReadableStream): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = http.request(opts, resolve);
      req.on('error', (e) => reject(connectError(e, this.socketPath)));
      if (body === undefined) req.end();
      else if (typeof body === 'string') req.end(body);
      else body.pipe(req);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function connectError(e: NodeJS.ErrnoException, path: string): Error {
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') return new Error(`cannot connect to the hull daemon at unix://${path}: is it running? (start it with \`./bin/hull daemon\`)`);
  if (e.code === 'EACCES') return new Error(`permission denied on unix://${path}: hull needs root`);
  return e;
}

function safeJson(text: string): { code?: string; message?: string } | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString()));
    res.on('error', reject);
  });
}

/** A streamed response's end; one cut off before its end (the daemon failed mid-way) is an error. */
export function streamEnd(res: http.IncomingMessage, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const broken = () => reject(new Error(`${what} stream broke off before its end: the daemon could not read further (its log says why)`));
    res.on('end', resolve);
    res.on('aborted', broken);
    res.on('error', broken);
    res.on('close', () => (res.complete ? resolve() : broken()));
  });
}
