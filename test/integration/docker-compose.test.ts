import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compat, composeUntil, hasCompose, ok, runCompose, startDockerDaemon } from '../helpers/docker.js';
import type { TestDaemon } from '../helpers/hull.js';
import { freePort } from '../helpers/registry.js';

/**
 * Debian's docker-compose (1.29, docker-py underneath) against Hull's
 * Docker socket: an app of three services on two networks, a named volume,
 * a published port and a health check that gates depends_on, brought up,
 * used, scaled and brought down with nothing left.
 */
const compat = new Compat('docker-compose', 'compose');
const CLIENT = 'docker-compose 1.29';
let d: TestDaemon;
let destroy: (() => Promise<void>) | undefined;
let sock: string;
let dir: string;
let port: number;

const composeFile = (p: number) => `
x-quick-stop: &quick
  # busybox as PID 1 ignores SIGTERM: stop waits this long before SIGKILL (docker's default is 10 s).
  stop_grace_period: 1s
services:
  db:
    <<: *quick
    image: busybox
    command: sh -c 'echo db-up; date >> /var/lib/db/started; sleep 1; exec httpd -f -p 5432 -h /etc'
    networks: [back]
    healthcheck:
      test: ["CMD-SHELL", "wget -qO- http://127.0.0.1:5432/hostname"]
      interval: 300ms
      retries: 30
    volumes:
      - dbdata:/var/lib/db
    labels:
      role: db
  api:
    <<: *quick
    image: busybox
    command: sh -c 'echo api-up; while true; do wget -qO- http://db:5432/hostname >/dev/null && echo "db answers"; sleep 0.5; done'
    environment:
      MODE: compose
    networks:
      back: {}
      front:
        aliases: [backend]
    depends_on:
      db:
        condition: service_healthy
  web:
    <<: *quick
    image: busybox
    command: httpd -f -p 80 -h /etc
    init: true
    ports: ["127.0.0.1:${p}:80"]
    networks: [front]
    depends_on: [api]
networks:
  back: {}
  front: {}
volumes:
  dbdata: {}
`;

beforeAll(async () => {
  if (!hasCompose()) return;
  ({ daemon: d, sock, destroy } = await startDockerDaemon('compose'));
  dir = await mkdtemp(join(tmpdir(), 'hull-compose-'));
  port = await freePort();
  await writeFile(join(dir, 'docker-compose.yml'), composeFile(port));
});

afterAll(async () => {
  compat.save();
  await destroy?.();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!hasCompose())('docker-compose', () => {
  const compose = (args: string[]) => runCompose(sock, ['-p', 'shop', ...args], { cwd: dir, timeoutMs: 90_000 });
  const must = (args: string[]) => ok(compose(args), `docker-compose ${args.join(' ')}`);
  /** What Hull's own CLI lists of the project (compose names every container <project>_<service>_<n>). */
  const names = async (service = '\\w+') => [...(await d.ok(['ps', '-a'])).matchAll(new RegExp(`\\bshop_${service}_\\d+\\b`, 'g'))].map((m) => m[0]).sort();

  it('up -d creates the networks, the volume and the services in depends_on order; ps, logs, exec; the port answers; scale; recreate keeps the volume; down -v leaves nothing', async () => {
    compat.covers(CLIENT, 'up -d', 'networks', 'depends_on (order)', 'ports', 'environment', 'labels', 'network aliases', 'ps', 'logs', 'logs -f', 'exec', 'up --scale', 'down', 'project and service labels', 'named volumes', 'down -v', 'healthcheck', 'depends_on: condition: service_healthy', 'init');
    const up = await compose(['up', '-d']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/Creating network "shop_back" with the default driver[\s\S]*Creating shop_db_1[\s\S]*Creating shop_api_1[\s\S]*Creating shop_web_1/);
    const ps = await must(['ps']);
    for (const s of ['shop_db_1', 'shop_api_1', 'shop_web_1']) expect(ps).toMatch(new RegExp(`${s} .* Up`));
    expect(ps).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp`));
    // Hull's own CLI sees the same containers.
    expect(await names()).toEqual(['shop_api_1', 'shop_db_1', 'shop_web_1']);
    // api waited for db's health check to pass (depends_on: condition: service_healthy).
    const [dbi] = JSON.parse(await d.ok(['inspect', 'shop_db_1'])) as Array<{ state: { health?: { status: string; log: Array<{ end: string; exitCode: number }> } } }>;
    const [apii] = JSON.parse(await d.ok(['inspect', 'shop_api_1'])) as Array<{ state: { startedAt: string } }>;
    expect(dbi.state.health?.status).toBe('healthy');
    const healthyAt = dbi.state.health!.log.find((r) => r.exitCode === 0)!.end;
    expect(Date.parse(apii.state.startedAt)).toBeGreaterThanOrEqual(Date.parse(healthyAt));
    expect(ps).toMatch(/shop_db_1 .* Up \(healthy\)/);
    const [db] = JSON.parse(await d.ok(['inspect', 'shop_db_1'])) as Array<{ config: { labels: Record<string, string> } }>;
    expect(db.config.labels).toMatchObject({ 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'db', role: 'db' });
    const res = await fetch(`http://127.0.0.1:${port}/hostname`);
    expect(res.status).toBe(200);
    // logs -f follows: api's first line, then what it says once db answers.
    const followed = await composeUntil(sock, ['-p', 'shop', 'logs', '-f', '--no-color', 'api'], /db answers/, { cwd: dir });
    expect(followed).toMatch(/api_1\s+\| api-up\n[\s\S]*api_1\s+\| db answers/);
    expect(await must(['logs', '--no-color', '--tail', '1', 'db'])).toMatch(/db_1\s+\| db-up\n$/);
    expect(await must(['exec', '-T', 'api', 'sh', '-c', 'echo $MODE'])).toBe('compose\n');
    // web's init: true: tini is its PID 1, httpd its child.
    expect(await must(['exec', '-T', 'web', 'sh', '-c', 'tr "\\0" " " < /proc/1/cmdline'])).toBe('/run/hull-init -- httpd -f -p 80 -h /etc ');
    // api's alias on the front network, as web (on that network) resolves it.
    expect(await must(['exec', '-T', 'web', 'sh', '-c', 'nslookup backend >/dev/null && echo alias-ok'])).toBe('alias-ok\n');
    const scaled = await compose(['up', '-d', '--scale', 'api=3']);
    expect(scaled.code, scaled.stderr).toBe(0);
    expect(await names('api')).toEqual(['shop_api_1', 'shop_api_2', 'shop_api_3']);
    // The named volume outlives its container: a recreated db (-d --force-recreate) finds what the first one wrote.
    expect((await compose(['up', '-d', '--force-recreate', 'db'])).code).toBe(0);
    expect((await must(['exec', '-T', 'db', 'sh', '-c', 'wc -l < /var/lib/db/started'])).trim()).toBe('2');
    expect(await d.ok(['volume', 'ls'])).toContain('shop_dbdata');
    const down = await compose(['down', '-v']);
    expect(down.code, down.stderr).toBe(0);
    expect(await names()).toEqual([]);
    expect(await d.ok(['network', 'ls'])).not.toMatch(/shop_/);
    expect(await d.ok(['volume', 'ls'])).not.toContain('shop_dbdata');
  });
});
