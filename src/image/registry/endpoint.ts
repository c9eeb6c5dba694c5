import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { invalid } from '../../core/errors.js';
import { DEFAULT_DOMAIN } from '../reference.js';

/** Where a registry named in a reference is reached: base URL (no trailing slash) and the dispatcher to use. */
export interface Endpoint {
  /** The name as references spell it: `docker.io`, `127.0.0.1:5000`. */
  host: string;
  base: string;
  dispatcher: Agent;
}

/** Docker Hub's API is not served at its reference name. */
const API_HOST: Record<string, string> = { [DEFAULT_DOMAIN]: 'registry-1.docker.io' };

/**
 * Endpoints decides how to talk to a registry, as docker does: HTTPS with
 * verified certificates, except for "insecure" registries, which are every
 * loopback address (127.0.0.0/8, ::1, localhost) and those named with the
 * daemon's `--insecure-registry HOST[:PORT]`. An insecure registry is tried
 * over HTTPS without certificate checks first and over plain HTTP when TLS
 * fails; the answer is remembered for the daemon's life.
 *
 *   const ep = await endpoints.resolve('127.0.0.1:5000');   // { base: 'http://127.0.0.1:5000', ... }
 */
export class Endpoints {
  readonly secure = new Agent({ connections: 16, headersTimeout: 60_000, bodyTimeout: 60_000 });
  readonly unverified = new Agent({ connections: 16, headersTimeout: 60_000, bodyTimeout: 60_000, connect: { rejectUnauthorized: false } });
  private readonly insecure: Set<string>;
  private readonly cache = new Map<string, Promise<Endpoint>>();

  constructor(insecureRegistries: string[] = []) {
    for (const h of insecureRegistries) if (!/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(h)) throw invalid(`--insecure-registry "${h}": expected HOST or HOST:PORT`);
    this.insecure = new Set(insecureRegistries.map((h) => h.toLowerCase()));
  }

  isInsecure(host: string): boolean {
    const h = host.toLowerCase();
    return isLoopback(hostname(h)) || this.insecure.has(h) || this.insecure.has(hostname(h));
  }

  resolve(host: string): Promise<Endpoint> {
    let ep = this.cache.get(host);
    if (!ep) {
      ep = this.probe(host);
      this.cache.set(host, ep);
      ep.catch(() => this.cache.delete(host));
    }
    return ep;
  }

  private async probe(host: string): Promise<Endpoint> {
    const api = API_HOST[host] ?? host;
    if (!this.isInsecure(host)) return { host, base: `https://${api}`, dispatcher: this.secure };
    const https = { host, base: `https://${api}`, dispatcher: this.unverified };
    try {
      const res = await request(`${https.base}/v2/`, { dispatcher: this.unverified, headersTimeout: 5_000, signal: AbortSignal.timeout(5_000) });
      await res.body.dump();
      return https;
    } catch {
      // No TLS there (a plain HTTP registry answers a ClientHello with garbage or a reset): use HTTP.
      return { host, base: `http://${api}`, dispatcher: this.secure };
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.secure.close(), this.unverified.close()]);
  }
}

/** `127.0.0.1:5000` → `127.0.0.1`, `[::1]:5000` → `::1`. */
function hostname(host: string): string {
  const v6 = /^\[([^\]]+)\]/.exec(host);
  if (v6) return v6[1];
  return host.replace(/:\d+$/, '');
}

function isLoopback(name: string): boolean {
  if (name === 'localhost') return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  return isIP(name) === 6 && (name === '::1' || name === '0:0:0:0:0:0:0:1');
}
