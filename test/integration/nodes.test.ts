import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplicaRow, ServiceSummary } from '../../src/api/contract/services.js';
import type { Node } from '../../src/core/node.js';
import { TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * Nodes through the real CLI: this host's node, its labels as placement
 * constraints see them, and its availability (pause, drain, active) as the
 * services' controller obeys it, with real containers.
 */
let d: TestDaemon;
let dir: string;

const APP = `
services:
  db:
    image: busybox
    command: ["sleep", "600"]
    stop_grace_period: 1s
    deploy:
      replicas: 2
      placement:
        constraints: ["node.labels.disk==ssd"]
  web:
    image: busybox
    command: ["sleep", "600"]
    stop_grace_period: 1s
    deploy:
      replicas: 2
`;

const service = async (name: string) => (JSON.parse(await d.ok(['service', 'ls', '--format', 'json'])) as ServiceSummary[]).find((s) => s.name === name)!;
const replicas = async (name: string) => (JSON.parse(await d.ok(['service', 'ps', name, '--format', 'json'])) as ReplicaRow[]).filter((r) => r.state === 'running');
const self = async () => (JSON.parse(await d.ok(['node', 'ls', '--format', 'json'])) as Node[])[0];

beforeAll(async () => {
  d = await TestDaemon.start();
  dir = await mkdtemp('/tmp/hull-nodes-');
  await writeFile(join(dir, 'compose.yaml'), APP);
});

afterAll(async () => {
  await d?.hull(['delete', '-f', join(dir, 'compose.yaml')]);
  await d?.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe('nodes', () => {
  it('this host is one node: ready, active, a manager, with its CPUs and memory; its id survives a restart', async () => {
    const n = await self();
    expect(n).toMatchObject({ name: hostname(), status: 'ready', availability: 'active', role: 'manager', labels: {} });
    expect(n.resources.cpus).toBeGreaterThan(0);
    expect(n.id).toMatch(/^[0-9a-f]{64}$/);
    const table = await d.ok(['node', 'ls']);
    expect(table).toMatch(/HOSTNAME\s+STATUS\s+AVAILABILITY/);
    expect(table).toContain(hostname());
    await d.stop();
    await d.spawn();
    expect((await self()).id).toBe(n.id);
    expect((await d.ok(['node', 'inspect', '-f', '{{.status}}', n.id.slice(0, 12)])).trim()).toBe('ready');
  });

  it('a constraint on a label no node has leaves its service waiting, saying why; the label added, it runs at once', async () => {
    await d.ok(['apply', '-f', join(dir, 'compose.yaml')]);
    await waitFor(async () => (await replicas('web')).length === 2, 30_000);
    await waitFor(async () => /no node can take it/.test((await service('db')).message), 20_000);
    expect(await replicas('db')).toHaveLength(0);
    const t0 = Date.now();
    await d.ok(['node', 'update', '--label-add', 'disk=ssd', hostname()]);
    await waitFor(async () => (await replicas('db')).length === 2, 20_000);
    // The node's change is a trigger, not a wait for the failed create's back-off (up to 30 s).
    expect(Date.now() - t0).toBeLessThan(10_000);
    const n = await self();
    expect(n.labels).toEqual({ disk: 'ssd' });
    expect((await replicas('db'))[0].node).toBe(hostname());
  });

  it('drain removes every replica and the services wait; pause keeps them; active brings them back', async () => {
    await d.ok(['node', 'update', '--availability', 'pause', hostname()]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await replicas('web')).toHaveLength(2);
    await d.ok(['node', 'update', '--availability', 'drain', hostname()]);
    await waitFor(async () => (await replicas('web')).length === 0 && (await replicas('db')).length === 0, 30_000);
    expect((await service('web')).message).toMatch(/no node can take it/);
    const events = await d.ok(['events', '--since', '2m', '--until', '0s', '--filter', 'service=web']);
    expect(events).toMatch(/its node is being drained/);
    const nodeEvents = (await d.ok(['events', '--since', '2m', '--until', '0s', '--filter', 'type=node', '--format', 'json'])).trim().split('\n').map((l) => JSON.parse(l));
    expect(nodeEvents.at(-1)).toMatchObject({ Type: 'node', Action: 'update', Actor: { Attributes: { name: hostname(), 'availability.old': 'pause', 'availability.new': 'drain', 'label.disk': 'ssd' } } });
    await d.ok(['node', 'update', '--availability', 'active', hostname()]);
    await waitFor(async () => (await replicas('web')).length === 2 && (await replicas('db')).length === 2, 30_000);
  });

  it('refuses what is no change, a bad availability, a missing label, an unknown node', async () => {
    expect((await d.hull(['node', 'update', hostname()])).stderr).toMatch(/nothing to change/);
    expect((await d.hull(['node', 'update', '--availability', 'off', hostname()])).stderr).toMatch(/use active, pause or drain/);
    expect((await d.hull(['node', 'update', '--label-rm', 'nosuch', hostname()])).stderr).toMatch(/has no label "nosuch"/);
    const r = await d.hull(['node', 'inspect', 'nosuch-node']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/node "nosuch-node" not found/);
    expect((await self()).labels).toEqual({ disk: 'ssd' });
  });
});
