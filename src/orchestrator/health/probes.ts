import { request } from 'node:http';
import { Socket } from 'node:net';
import { HEALTH_OUTPUT_MAX, type HealthProbe } from '../../core/health.js';

export interface ProbeResult {
  exitCode: number;
  output: string;
}

/** Runs a command inside an instance (the driver's exec), output capped, within the timeout. */
export type Exec = (cmd: string[], timeoutMs: number) => Promise<ProbeResult>;

/**
 * One probe. exec: the command's exit code and output; http: a GET answered
 * 200–399 (as Kubernetes' httpGet); tcp: a connection accepted. Host-side
 * probes go to the instance's address; a probe that takes longer than its
 * timeout fails, as docker's does (exit code 1 with a message; -1 is docker's
 * "could not run").
 */
export async function runProbe(p: HealthProbe, o: { exec: Exec; address?: string; timeoutMs: number }): Promise<ProbeResult> {
  if ('exec' in p) return o.exec(p.exec, o.timeoutMs).catch((e: Error) => ({ exitCode: -1, output: cap(e.message) }));
  if (!o.address) return { exitCode: -1, output: 'no address to probe: http and tcp checks need the instance on a network' };
  if ('tcp' in p) return tcp(o.address, p.tcp.port, o.timeoutMs);
  return http(o.address, p.http.port, p.http.path, o.timeoutMs);
}

function tcp(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (r: ProbeResult) => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(timeoutMs, () => done({ exitCode: 1, output: `tcp ${host}:${port}: no answer within ${timeoutMs} ms` }));
    s.once('error', (e) => done({ exitCode: 1, output: `tcp ${host}:${port}: ${e.message}` }));
    s.connect(port, host, () => done({ exitCode: 0, output: `tcp ${host}:${port}: connected` }));
  });
}

function http(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      resolve(r);
    };
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs, headers: { 'user-agent': 'hull-health', connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < HEALTH_OUTPUT_MAX) body += c;
      });
      res.on('end', () => {
        const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400;
        done({ exitCode: ok ? 0 : 1, output: cap(`HTTP ${res.statusCode}: ${body}`) });
      });
      res.on('error', (e) => done({ exitCode: 1, output: cap(`http ${host}:${port}${path}: ${e.message}`) }));
    });
    req.on('timeout', () => {
      req.destroy();
      done({ exitCode: 1, output: `http ${host}:${port}${path}: no answer within ${timeoutMs} ms` });
    });
    req.on('error', (e) => done({ exitCode: 1, output: cap(`http ${host}:${port}${path}: ${e.message}`) }));
    req.end();
  });
}

export const cap = (s: string) => (s.length > HEALTH_OUTPUT_MAX ? s.slice(0, HEALTH_OUTPUT_MAX) : s);
