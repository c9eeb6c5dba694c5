import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Instance } from '../../core/instance.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { Nodes, type NodeFacts } from './nodes.js';

const FACTS: NodeFacts = { name: 'h1', platform: { os: 'linux', arch: 'x86_64' }, resources: { cpus: 2, memoryBytes: 2 ** 31 }, engine: { version: '0.1.0', kernel: '6.1' } };
let dir: string;
let store: SqliteStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hull-nodes-'));
  store = new SqliteStore(join(dir, 'hull.db'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Nodes', () => {
  it('register makes the node once and refreshes its facts, keeping id, labels and availability; down marks it', async () => {
    const a = await new Nodes(store).register(FACTS, '2026-01-01T00:00:00.000Z');
    await new Nodes(store).update('h1', { labelAdd: { disk: 'ssd' }, availability: 'pause' });
    const b = await new Nodes(store).register({ ...FACTS, resources: { cpus: 8, memoryBytes: 2 ** 33 } }, '2026-02-01T00:00:00.000Z');
    expect(b).toMatchObject({ id: a.id, labels: { disk: 'ssd' }, availability: 'pause', status: 'ready', createdAt: a.createdAt, resources: { cpus: 8 } });
    const n = new Nodes(store);
    await n.register(FACTS);
    await n.down();
    expect((await n.get(a.id.slice(0, 6))).status).toBe('down');
    expect(await n.list()).toHaveLength(1);
  });

  it('views: ready only when up and active, draining when drained, labels and reservations of replicas on it', async () => {
    const n = new Nodes(store);
    const { id } = await n.register(FACTS);
    expect((await n.views())[0]).toMatchObject({ id, hostname: 'h1', ready: true, draining: false, labels: {}, allocated: { cpus: 0 } });
    await n.update(id, { availability: 'drain' });
    expect((await n.views())[0]).toMatchObject({ ready: false, draining: true });
    expect(await n.draining()).toEqual(new Set([id]));
    await n.update(id, { availability: 'active', labelAdd: { zone: 'a' } });
    expect((await n.views())[0]).toMatchObject({ ready: true, draining: false, labels: { zone: 'a' } });
  });

  it('refuses a bad label key, removing a label it does not have, an unknown or ambiguous node', async () => {
    const n = new Nodes(store);
    await n.register(FACTS);
    await expect(n.update('h1', { labelAdd: { 'bad key': 'x' } })).rejects.toThrow(/node label "bad key"/);
    await expect(n.update('h1', { labelRm: ['nope'] })).rejects.toThrow(/has no label "nope"/);
    await expect(n.get('h2')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('adopts replicas placed before nodes had ids ("local" or none), leaving plain containers alone', async () => {
    const inst = (id: string, node?: string, owned = true) => ({ id, name: id, type: 'container', ...(owned ? { owner: { kind: 'service', id: 's', name: 's' } } : {}), ...(node ? { node } : {}), config: {}, state: {} }) as unknown as Instance;
    for (const i of [inst('a', 'local'), inst('b'), inst('c', 'other'), inst('d', undefined, false)]) await store.create('instance', i.id, i.name, i);
    const { id } = await new Nodes(store).register(FACTS);
    const node = async (x: string) => (await store.get<Instance>('instance', x))?.node;
    expect([await node('a'), await node('b'), await node('c'), await node('d')]).toEqual([id, id, 'other', undefined]);
  });
});
