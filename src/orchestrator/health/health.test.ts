import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextHealth, type HealthCheck, type HealthState } from '../../core/health.js';
import { HealthMonitor } from './monitor.js';
import { runProbe } from './probes.js';

const at = (n: number) => new Date(n * 1000).toISOString();
const res = (exitCode: number, n = 0) => ({ start: at(n), end: at(n), exitCode, output: '' });
const starting: HealthState = { status: 'starting', failingStreak: 0, log: [], since: at(0) };

describe('health state, as docker keeps it', () => {
  it('becomes healthy at the first success and unhealthy after `retries` failures in a row', () => {
    let s = nextHealth(starting, res(0, 1), false, 3);
    expect(s).toMatchObject({ status: 'healthy', failingStreak: 0, since: at(1) });
    s = nextHealth(s, res(1, 2), false, 3);
    s = nextHealth(s, res(1, 3), false, 3);
    expect(s).toMatchObject({ status: 'healthy', failingStreak: 2 });
    s = nextHealth(s, res(1, 4), false, 3);
    expect(s).toMatchObject({ status: 'unhealthy', failingStreak: 3, since: at(4) });
    s = nextHealth(s, res(0, 5), false, 3);
    expect(s).toMatchObject({ status: 'healthy', failingStreak: 0, since: at(5) });
  });

  it('does not count failures in the start period until a success ended it, and keeps five results', () => {
    let s = starting;
    for (let i = 0; i < 10; i++) s = nextHealth(s, res(1, i), true, 1);
    expect(s).toMatchObject({ status: 'starting', failingStreak: 0 });
    expect(s.log).toHaveLength(5);
    s = nextHealth(s, res(0, 11), true, 1);
    s = nextHealth(s, res(1, 12), true, 1);
    expect(s.status).toBe('unhealthy');
  });
});

describe('probes', () => {
  let server: Server;
  let port = 0;
  let status = 200;
  beforeAll(async () => {
    server = createServer((req, rsp) => {
      rsp.statusCode = req.url === '/slow' ? 200 : status;
      if (req.url === '/slow') setTimeout(() => rsp.end('late'), 2000);
      else rsp.end('ok body');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => server.close());
  const exec = async () => ({ exitCode: 0, output: '' });

  it('http: 200-399 passes, others fail, a slow answer times out', async () => {
    expect(await runProbe({ http: { port, path: '/' } }, { exec, address: '127.0.0.1', timeoutMs: 1000 })).toEqual({ exitCode: 0, output: 'HTTP 200: ok body' });
    status = 503;
    expect((await runProbe({ http: { port, path: '/' } }, { exec, address: '127.0.0.1', timeoutMs: 1000 })).exitCode).toBe(1);
    status = 200;
    expect(await runProbe({ http: { port, path: '/slow' } }, { exec, address: '127.0.0.1', timeoutMs: 200 })).toMatchObject({ exitCode: 1, output: expect.stringContaining('no answer within 200 ms') });
  });

  it('tcp: a connection accepted passes, a closed port fails; no address fails clearly', async () => {
    expect((await runProbe({ tcp: { port } }, { exec, address: '127.0.0.1', timeoutMs: 1000 })).exitCode).toBe(0);
    const closed = await runProbe({ tcp: { port: 1 } }, { exec, address: '127.0.0.1', timeoutMs: 1000 });
    expect(closed).toMatchObject({ exitCode: 1, output: expect.stringContaining('ECONNREFUSED') });
    expect((await runProbe({ tcp: { port } }, { exec, timeoutMs: 1000 })).output).toMatch(/need the instance on a network/);
  });
});

describe('HealthMonitor', () => {
  const check = (o: Partial<HealthCheck> = {}): HealthCheck => ({ probe: { exec: ['true'] }, intervalMs: 100, timeoutMs: 1000, retries: 2, startPeriodMs: 0, startIntervalMs: 100, ...o });

  it('probes on schedule, reports changes, and stops when unwatched', async () => {
    const reports: Array<{ status: string; changed: boolean }> = [];
    let code = 0;
    const m = new HealthMonitor({ report: async (_id, s, changed) => void reports.push({ status: s.status, changed }) });
    m.watch({ id: 'a', check: check(), startedAt: Date.now(), exec: async () => ({ exitCode: code, output: '' }) });
    await new Promise((r) => setTimeout(r, 350));
    expect(reports[0]).toEqual({ status: 'healthy', changed: true });
    code = 1;
    await new Promise((r) => setTimeout(r, 450));
    expect(reports.some((x) => x.status === 'unhealthy' && x.changed)).toBe(true);
    m.unwatch('a');
    const n = reports.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(reports.length).toBe(n);
    m.close();
  });
});
