import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

/** A free TCP port on loopback (bound and released; good enough for tests run one file at a time). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface Registry {
  host: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

/**
 * Debian's docker-registry (distribution 2.8) on a free loopback port with
 * its storage under `dir`. `auth` adds a config block (htpasswd or token).
 */
export async function startRegistry(dir: string, auth?: Record<string, unknown>): Promise<Registry> {
  const port = await freePort();
  await mkdir(join(dir, 'data'), { recursive: true });
  const config = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}` },
    ...(auth ? { auth } : {}),
  };
  // JSON is YAML.
  await writeFile(join(dir, 'config.yml'), JSON.stringify(config));
  const proc = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  await waitHttp(`http://127.0.0.1:${port}/v2/`, proc, () => log);
  return {
    host: `127.0.0.1:${port}`,
    port,
    dir,
    stop: () => stopProc(proc),
  };
}

async function waitHttp(url: string, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`registry exited: ${log()}`);
    const ok = await new Promise<boolean>((r) => http.get(url, (res) => (res.resume(), r(true))).on('error', () => r(false)));
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`registry did not start: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function stopProc(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

export interface ProxyStats {
  /** Bytes of blob bodies sent, per digest. */
  blobBytes: Map<string, number>;
  /** GET requests for blobs, per digest. */
  blobGets: Map<string, number>;
  /** Range headers seen on blob GETs. */
  ranges: string[];
  /** Requests that reached the "storage" port after a redirect, and whether they carried Authorization. */
  storage: Array<{ digest: string; authorization: boolean }>;
  /** Every request, as `METHOD /path` (query left off). */
  requests: string[];
}

export interface ProxyRules {
  /** Serve this blob with one byte changed (same length). */
  corrupt?: string;
  /** Cut the connection half-way through these blobs, the first time each is served. */
  cutOnce?: Set<string>;
  /** Answer blob GETs with a 307 to a second port (another origin), as registries send blobs to storage. */
  redirect?: boolean;
  /** What the "storage" port sends upstream as Authorization (a registry behind auth needs it; presigned URLs carry their own). */
  storageAuth?: string;
  /** Hold blob GETs for these digests this long before answering. */
  delay?: { digests: Set<string>; ms: number };
  /** Answer a manifest GET for the key (a tag or digest) with the manifest the registry has for the value: bytes that do not hash to what was asked for. */
  swapManifest?: Map<string, string>;
}

export interface Proxy {
  host: string;
  rules: ProxyRules;
  stats: ProxyStats;
  reset(): void;
  stop(): Promise<void>;
}

const BLOB_RE = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/;
const MANIFEST_RE = /^\/v2\/(.+)\/manifests\/([^/?]+)$/;

/**
 * A small HTTP proxy in front of a registry that can misbehave on purpose,
 * and counts what it sends: a faithful registry (every other request is
 * passed through untouched) with a few knobs.
 */
export async function startProxy(target: string, listenHost = '127.0.0.1'): Promise<Proxy> {
  const rules: ProxyRules = {};
  const stats: ProxyStats = { blobBytes: new Map(), blobGets: new Map(), ranges: [], storage: [], requests: [] };
  const cut = new Set<string>();
  const storagePort = await freePort(listenHost);

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, path: string, digest?: string, extra: Record<string, string> = {}) => {
    // The Host header stays the proxy's, so upload Locations the registry builds point back here.
    const headers = { ...req.headers, ...extra };
    const up = http.request({ host: target.split(':')[0], port: Number(target.split(':')[1]), method: req.method, path, headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      if (!digest || req.method !== 'GET') return void ur.pipe(res);
      const total = Number(ur.headers['content-length'] ?? 0);
      let sent = 0;
      let first = true;
      const cutNow = rules.cutOnce?.has(digest) && !cut.has(digest) && ur.statusCode === 200;
      ur.on('data', (chunk: Buffer) => {
        let c = chunk;
        if (first && rules.corrupt === digest && c.length > 0) {
          c = Buffer.from(c);
          c[c.length - 1] ^= 0xff;
        }
        first = false;
        if (cutNow && sent + c.length > total / 2) {
          cut.add(digest);
          res.socket?.destroy();
          ur.destroy();
          return;
        }
        sent += c.length;
        stats.blobBytes.set(digest, (stats.blobBytes.get(digest) ?? 0) + c.length);
        res.write(c);
      });
      ur.on('end', () => res.end());
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };

  const main = http.createServer((req, res) => {
    stats.requests.push(`${req.method} ${(req.url ?? '').split('?')[0]}`);
    const swapped = MANIFEST_RE.exec(req.url ?? '');
    const other = swapped && rules.swapManifest?.get(decodeURIComponent(swapped[2]));
    if (swapped && other) return void forward(req, res, `/v2/${swapped[1]}/manifests/${other}`);
    const m = BLOB_RE.exec(req.url ?? '');
    if (m && req.method === 'GET') {
      stats.blobGets.set(m[2], (stats.blobGets.get(m[2]) ?? 0) + 1);
      if (req.headers.range) stats.ranges.push(String(req.headers.range));
      if (rules.delay?.digests.has(m[2])) {
        const d = rules.delay;
        return void setTimeout(() => forward(req, res, req.url ?? '/', m[2]), d.ms);
      }
      if (rules.redirect) {
        res.writeHead(307, { location: `http://${listenHost}:${storagePort}/storage/${m[1]}/${m[2]}` });
        return void res.end();
      }
    }
    forward(req, res, req.url ?? '/', m && req.method === 'GET' ? m[2] : undefined);
  });
  const storage = http.createServer((req, res) => {
    const m = /^\/storage\/(.+)\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    stats.storage.push({ digest: m[2], authorization: req.headers.authorization !== undefined });
    delete req.headers.authorization;
    forward(req, res, `/v2/${m[1]}/blobs/${m[2]}`, m[2], rules.storageAuth ? { authorization: rules.storageAuth } : {});
  });
  const port = await new Promise<number>((resolve) => main.listen(0, listenHost, () => resolve((main.address() as AddressInfo).port)));
  await new Promise<void>((resolve) => storage.listen(storagePort, listenHost, () => resolve()));
  return {
    host: `${listenHost}:${port}`,
    rules,
    stats,
    reset() {
      stats.blobBytes.clear();
      stats.blobGets.clear();
      stats.ranges.length = 0;
      stats.storage.length = 0;
      stats.requests.length = 0;
    },
    async stop() {
      main.closeAllConnections();
      storage.closeAllConnections();
      await Promise.all([new Promise((r) => main.close(r)), new Promise((r) => storage.close(r))]);
    },
  };
}
