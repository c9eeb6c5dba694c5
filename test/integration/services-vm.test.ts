import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplicaRow, ServiceDetail } from '../../src/api/contract/services.js';
import { REPO, TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * Services of VMs beside services of containers (under TCG here), isolation
 * auto, and autoscaling on real CPU load.
 */
const guestBuilt = existsSync(join(REPO, 'build', 'guest', 'vmlinuz'));

const APP = `
services:
  db:
    networks: [appnet]
    deploy:
      resources:
        limits: { cpus: "1", memory: 256M }
    x-hull:
      vm:
        image: debian-min
        user_script: "mkdir -p /www && echo from-vm > /www/index.html && busybox httpd -p 80 -h /www"
      healthcheck: { tcp: { port: 80 }, interval: 1s, retries: 3 }
  front:
    image: busybox
    command: ["sh", "-c", "sleep 3600"]
    stop_grace_period: 0s
    networks: [appnet]
    x-hull: { isolation: auto, untrusted: true }
  worker:
    image: busybox
    command: ["sh", "-c", "while :; do if [ -e /tmp/busy ]; then :; else sleep 0.2; fi; done"]
    stop_grace_period: 0s
    networks: [appnet]
    deploy:
      replicas: 1
      resources:
        limits: { cpus: "0.5" }
    x-hull:
      autoscale: { min: 1, max: 3, target_cpu: 30, scale_down_window: 10s }
networks:
  appnet:
    name: vmsvcnet
`;

describe.skipIf(!guestBuilt)('services of VMs, isolation auto, autoscaling', () => {
  let d: TestDaemon;
  let dir: string;
  const inspect = async (name: string) => JSON.parse(await d.ok(['service', 'inspect', name]))[0] as ServiceDetail;
  const ps = async (name: string) => JSON.parse(await d.ok(['service', 'ps', name, '--format', 'json'])) as ReplicaRow[];

  beforeAll(async () => {
    d = await TestDaemon.start();
    dir = join(await mkdtemp('/tmp/hull-svcvm-'), 'mixed');
    await mkdir(dir);
    await writeFile(join(dir, 'compose.yaml'), APP);
    await d.ok(['apply', '-f', join(dir, 'compose.yaml')]);
  }, 120_000);
  afterAll(async () => {
    await d.hull(['delete', '-f', join(dir, 'compose.yaml')], { timeoutMs: 120_000 }).catch(() => undefined);
    await d.destroy();
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('runs a VM service beside containers: ready by its tcp check, reached by name through its VIP', async () => {
    await waitFor(async () => (await inspect('db')).ready === 1, 180_000, 500);
    const db = await inspect('db');
    expect(db.kind).toBe('vm');
    expect((await ps('db'))[0].kind).toBe('vm');
    const got = await d.ok(['run', '--rm', '--network', 'vmsvcnet', 'busybox', 'sh', '-c', 'timeout 10 wget -qO- http://db/']);
    expect(got.trim()).toBe('from-vm');
  }, 240_000);

  it('puts an untrusted service in a VM of its own when isolation is auto, and says why', async () => {
    await waitFor(async () => (await inspect('front')).ready === 1, 180_000, 500);
    const front = await inspect('front');
    expect(front.isolation).toBe('vm');
    expect(front.isolationReason).toMatch(/untrusted/);
    expect((await ps('front'))[0].kind).toBe('container(vm)');
    expect((await inspect('worker')).isolation).toBe('container');
  }, 240_000);

  it('scales up on CPU load within 15 s and back down after the window', async () => {
    await waitFor(async () => (await inspect('worker')).ready === 1, 60_000);
    const [w] = await ps('worker');
    await d.ok(['exec', w.name, 'touch', '/tmp/busy']);
    const t0 = Date.now();
    await waitFor(async () => (await inspect('worker')).replicas > 1, 30_000, 250);
    const up = Date.now() - t0;
    expect(up).toBeLessThan(15_000);
    const s = await inspect('worker');
    expect(s.status.autoscale?.message).toMatch(/^cpu \d+% of a 30% target over 1 replica: 1 → [23]/);
    await d.ok(['exec', w.name, 'rm', '/tmp/busy']);
    await waitFor(async () => (await inspect('worker')).replicas === 1, 60_000, 500);
    expect((await inspect('worker')).status.autoscale?.message).toMatch(/lowest in the 10s window/);
  }, 120_000);
});
