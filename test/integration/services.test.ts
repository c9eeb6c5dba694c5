import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplicaRow, ServiceDetail, ServiceSummary } from '../../src/api/contract/services.js';
import { TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * Services through the real CLI, with real containers, the kernel's
 * balancer and the network's name server: apply, self-healing, health,
 * rolling updates under load, automatic rollback, undo, scaling, a daemon
 * killed mid-rollout, bad input, delete.
 */
const PORT = 18181;
const WEB = (o: { version?: string; cmdExtra?: string; update?: string; replicas?: number; more?: string } = {}) => `
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo ${o.version ?? 'v1'} $$HOSTNAME > /tmp/index.html; ${o.cmdExtra ?? ''}exec httpd -f -p 80 -h /tmp"]
    ports: ["${PORT}:80"]
    networks: [appnet]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1/"]
      interval: 500ms
      timeout: 2s
      retries: 2
    deploy:
      replicas: ${o.replicas ?? 3}
      update_config: { parallelism: 1, order: start-first, monitor: 1s${o.update ?? ''} }
      rollback_config: { parallelism: 3, monitor: 500ms }
    x-hull: { ready_timeout: 20s }
${o.more ?? ''}networks:
  appnet:
    name: svcnet
`;

/** One GET to the published port: the body, or the error. */
function get(url: string): Promise<{ ok: boolean; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ ok: res.statusCode === 200, body: body.trim() }));
      res.on('error', () => resolve({ ok: false, body: 'response error' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ ok: false, body: e.message }));
  });
}

/** Requests one after another until stopped: how many failed, and what they said. */
function load(url: string) {
  let stop = false;
  const failures: string[] = [];
  let ok = 0;
  const done = (async () => {
    while (!stop) {
      const r = await get(url);
      if (r.ok) ok++;
      else failures.push(r.body);
    }
  })();
  return {
    async end() {
      stop = true;
      await done;
      return { ok, failures };
    },
  };
}

describe('services', () => {
  let d: TestDaemon;
  let dir: string;
  const file = () => join(dir, 'docker-compose.yml');
  const write = (yaml: string) => writeFile(file(), yaml);
  const apply = (yaml: string) => write(yaml).then(() => d.ok(['apply', '-f', file()]));
  const svc = async () => JSON.parse(await d.ok(['service', 'inspect', 'web']))[0] as ServiceDetail;
  const ps = async () => JSON.parse(await d.ok(['service', 'ps', 'web', '--format', 'json'])) as ReplicaRow[];
  const ps2 = async (name: string) => JSON.parse(await d.ok(['service', 'ps', name, '--format', 'json'])) as ReplicaRow[];
  const readyAt = (n: number, revision?: number) =>
    waitFor(async () => {
      const s = await svc();
      return s.ready === n && s.replicas === n && (revision === undefined || s.revision === revision) && s.status.rollout.state === 'complete' && (await ps()).length === n;
    }, 60_000);

  beforeAll(async () => {
    d = await TestDaemon.start();
    dir = join(await mkdtemp('/tmp/hull-svc-'), 'shop');
    await mkdir(dir);
  });
  afterAll(async () => {
    await d.hull(['delete', '-f', file()]).catch(() => undefined);
    await d.destroy();
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('apply makes replicas behind a published port and a VIP, names resolve, applying again changes nothing', async () => {
    const out = await apply(WEB());
    expect(out).toContain('service web created');
    expect(out).toContain('network svcnet created');
    await readyAt(3);
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) seen.add((await get(`http://127.0.0.1:${PORT}/`)).body);
    expect(seen.size).toBeGreaterThanOrEqual(2);
    const s = await svc();
    expect(s.vips.svcnet).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(s.app).toBe('shop');
    const inside = await d.ok(['run', '--rm', '--network', 'svcnet', 'busybox', 'sh', '-c', 'wget -qO- http://web/ && nslookup web']);
    expect(inside).toMatch(/^v1 /);
    expect(inside).toContain(s.vips.svcnet);
    expect(await apply(WEB())).toMatch(/service web unchanged/);
    const diff = await d.hull(['diff', '-f', file()]);
    expect(diff.code).toBe(0);
    const ls = JSON.parse(await d.ok(['service', 'ls', '--format', 'json'])) as ServiceSummary[];
    expect(ls.map((x) => [x.name, x.ready, x.replicas])).toEqual([['web', 3, 3]]);
  });

  it('heals: a killed replica restarts (with its back-off), one removed by hand is replaced in its slot', async () => {
    const [first] = await ps();
    const pid = (await d.ok(['inspect', '-f', '{{.State.Pid}}', first.name])).trim();
    const t0 = Date.now();
    process.kill(Number(pid), 'SIGKILL');
    await waitFor(async () => (await ps()).find((r) => r.id === first.id && r.restarts === 1 && r.ready), 20_000, 100);
    expect(Date.now() - t0).toBeLessThan(15_000);
    const victim = (await ps())[2];
    await d.ok(['rm', '-f', victim.name]);
    await waitFor(async () => {
      const rs = await ps();
      return rs.length === 3 && !rs.some((r) => r.id === victim.id) && rs.every((r) => r.ready) && rs.map((r) => r.slot).join() === '1,2,3';
    }, 30_000);
  });

  it('takes a replica that fails its health check out of the rotation, and brings it back', async () => {
    const lg = load(`http://127.0.0.1:${PORT}/`);
    const [victim] = await ps();
    await d.ok(['exec', victim.name, 'rm', '/tmp/index.html']);
    await waitFor(async () => (await ps()).find((r) => r.id === victim.id && (r.health === 'unhealthy' || r.restarts > victim.restarts)), 20_000, 100);
    await waitFor(async () => (await ps()).every((r) => r.ready && r.health === 'healthy'), 30_000);
    const { ok, failures } = await lg.end();
    // The broken replica answered 404 until its check failed twice (about a second): those may be seen, nothing else.
    expect(failures.filter((f) => !f.includes('404'))).toEqual([]);
    expect(ok).toBeGreaterThan(0);
  });

  it('rolls out a new revision under load without a failed request, rolls a bad one back by itself, and undoes', async () => {
    const lg = load(`http://127.0.0.1:${PORT}/`);
    await apply(WEB({ version: 'v2' }));
    await readyAt(3, 2);
    expect((await get(`http://127.0.0.1:${PORT}/`)).body).toMatch(/^v2 /);
    // A revision whose program exits at once never becomes ready: back to revision 2's template, alone.
    await apply(WEB({ version: 'v3', cmdExtra: 'exit 3; ' }));
    await waitFor(async () => (await svc()).status.rollout.state === 'rolled-back', 60_000);
    const s = await svc();
    expect(s.revision).toBe(4);
    expect(s.history.map((h) => h.hash)[3]).toBe(s.history[1].hash);
    expect(s.status.message).toMatch(/^revision 3 failed \(web\.1\.\w+ (exited|did not become ready)/);
    const { ok, failures } = await lg.end();
    expect(failures, `${failures.length} failed of ${ok + failures.length}: ${[...new Set(failures)].join(' | ')}`).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    expect((await get(`http://127.0.0.1:${PORT}/`)).body).toMatch(/^v2 /);
    const hist = await d.ok(['rollout', 'history', 'web']);
    expect(hist).toMatch(/4 \(current\).*back to revision 2's template/);
    await d.ok(['rollout', 'undo', 'web', '--to-revision', '1']);
    await readyAt(3, 5);
    expect((await get(`http://127.0.0.1:${PORT}/`)).body).toMatch(/^v1 /);
  });

  it('scales up and down', async () => {
    await d.ok(['service', 'scale', 'web=5']);
    await readyAt(5);
    await d.ok(['service', 'scale', 'web=2']);
    await readyAt(2);
    expect((await ps()).map((r) => r.slot)).toEqual([1, 2]);
    await d.ok(['service', 'scale', 'web=3']);
    await readyAt(3);
  });

  it('finishes a rollout the daemon was killed in the middle of: no replica lost or doubled', async () => {
    const before = (await svc()).revision;
    await apply(WEB({ version: 'v6', update: ', delay: 1s' }));
    await waitFor(async () => (await ps()).some((r) => r.revision === before + 1), 30_000, 50);
    await d.crash();
    await d.spawn();
    await readyAt(3, before + 1);
    const rs = await ps();
    expect(rs.map((r) => r.slot)).toEqual([1, 2, 3]);
    expect(new Set(rs.map((r) => r.revision))).toEqual(new Set([before + 1]));
    const owned = (await d.ok(['ps', '-aq', '--no-trunc'])).split('\n').filter(Boolean);
    expect(owned).toHaveLength(3);
    expect((await get(`http://127.0.0.1:${PORT}/`)).body).toMatch(/^v6 /);
  });

  it('refuses a bad file naming file, line and field, changing nothing; reports a missing image on the service', async () => {
    const bad = WEB().replace('      replicas: 3', '      replicas: 3\n      replica: 4');
    await write(bad);
    const r = await d.hull(['apply', '-f', file()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/docker-compose\.yml:\d+:7: services\.web\.deploy\.replica: unknown field "replica"/);
    // Another service whose image is nowhere (a registry that refuses connections): said on it, retried, and web goes on.
    await apply(WEB({ version: 'v6', update: ', delay: 1s', more: '  ghost:\n    image: 127.0.0.1:1/no-such-image:1\n    networks: [appnet]\n' }));
    await waitFor(async () => {
      const g = JSON.parse(await d.ok(['service', 'inspect', 'ghost']))[0] as ServiceDetail;
      return /could not be created: .*no-such-image.*\(retrying in \d+s\)/.test(g.status.message);
    }, 30_000);
    expect((await svc()).ready).toBe(3);
  });

  it('keeps a named volume\'s data across replacements and rollouts; delete leaves the volume', async () => {
    const more = (v: string) => `  keeper:\n    image: busybox\n    command: ["sh", "-c", "echo ${v} >> /data/runs; exec sleep 3600"]\n    stop_grace_period: 0s\n    volumes: ["data:/data"]\n    networks: [appnet]\n`;
    const withVol = (v: string) => WEB({ version: 'v6', update: ', delay: 1s', more: more(v) }).replace('networks:\n  appnet:', 'volumes:\n  data: {}\nnetworks:\n  appnet:');
    await apply(withVol('a'));
    const runs = async () => (await d.ok(['exec', (JSON.parse(await d.ok(['service', 'ps', 'keeper', '--format', 'json'])) as ReplicaRow[])[0].name, 'cat', '/data/runs'])).trim().split('\n');
    await waitFor(async () => (await ps2('keeper')).some((r) => r.ready), 30_000);
    await d.ok(['rm', '-f', (await ps2('keeper'))[0].name]);
    await waitFor(async () => (await ps2('keeper')).some((r) => r.ready), 30_000);
    expect(await runs()).toEqual(['a', 'a']);
    await apply(withVol('b'));
    await waitFor(async () => (await ps2('keeper')).some((r) => r.ready && r.revision === 2), 30_000);
    expect(await runs()).toEqual(['a', 'a', 'b']);
    expect(await d.ok(['volume', 'ls', '-q'])).toContain('shop_data');
  });

  it('delete removes the services, their replicas, addresses, ports and networks', async () => {
    const vip = (await svc()).vips.svcnet;
    await d.ok(['delete', '-f', file()]);
    expect((await d.ok(['ps', '-aq'])).trim()).toBe('');
    expect(await d.ok(['network', 'ls', '-q'])).not.toContain('svcnet');
    expect(JSON.parse(await d.ok(['service', 'ls', '--format', 'json']))).toEqual([]);
    const rules = execFileSync('nft', ['list', 'table', 'inet', tableOf(d)], { encoding: 'utf8' });
    expect(rules).not.toContain(vip);
    expect((await get(`http://127.0.0.1:${PORT}/`)).ok).toBe(false);
    // Named volumes outlive the app, as docker compose down without -v.
    expect(await d.ok(['volume', 'ls', '-q'])).toContain('shop_data');
  });
});

/** The daemon's own nftables table (a test root's is tagged, net/networks.ts scopeNames). */
function tableOf(d: TestDaemon): string {
  const out = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
  const tables = out.split('\n').map((l) => l.split(' ')[2]).filter((t) => t?.startsWith('hull'));
  const tag = createHash('sha256').update(d.root).digest('hex').slice(0, 6);
  return tables.find((t) => t === `hull${tag}`) ?? `hull${tag}`;
}
