import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Instance } from '../core/instance.js';
import { newState } from '../core/instance.js';
import { Reverter } from '../core/reverter.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { run } from '../sys/run.js';
import { listLinks, netnsPath } from './link.js';
import { NetworkManager } from './manager.js';
import { scopeNames } from './networks.js';

/**
 * The network layer without a daemon or a runtime: real bridges, namespaces,
 * veths and taps (root only). The VM case is the attach point the QEMU driver
 * takes: taps on the same bridge, addresses from the same IPAM.
 */
const root = process.getuid?.() === 0;
let dir: string;
let store: SqliteStore;
let net: NetworkManager;
const quiet = { info: () => undefined, warn: () => undefined };

beforeAll(async () => {
  if (!root) return;
  dir = await mkdtemp('/tmp/hull-net-');
  store = new SqliteStore(join(dir, 'hull.db'));
  net = new NetworkManager({ root: dir, store, log: quiet, ...scopeNames(dir, false) });
  await net.start();
  await net.recover([]);
});

afterAll(async () => {
  if (!root) return;
  await net.shutdown();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function instance(type: 'container' | 'vm', name: string, id: string): Instance {
  const config = { hostname: name, userns: false } as Instance['config'];
  return { id, name, type, createdAt: '', config, state: { ...newState(), status: 'created' } };
}

const master = async (ifname: string) => (await listLinks()).find((l) => l.ifname === ifname)?.master;

describe.skipIf(!root)('NetworkManager', () => {
  it('gives a VM taps on the same bridge as containers, and its names to the name server', async () => {
    await net.create({ name: 'mixed', subnet: '10.232.1.0/24' });
    const bridge = (await net.get('mixed')).bridge;
    const ctr = instance('container', 'web', 'c'.repeat(64));
    const vm = instance('vm', 'db', 'd'.repeat(64));
    for (const inst of [ctr, vm]) Object.assign(inst.config, await net.allocate(inst, { networks: ['mixed'], aliases: [], ports: [] }, new Reverter()));
    const cctx = await net.up(ctr);
    const vctx = await net.up(vm);
    expect(cctx.netnsPath && existsSync(cctx.netnsPath)).toBe(true);
    expect(vctx.taps).toEqual([{ name: `ht${'d'.repeat(12)}0`, mac: '02:48:0a:e8:01:03', address: '10.232.1.3', prefixLen: 24, gateway: '10.232.1.1', nameserver: '10.232.1.1' }]);
    expect(await master(`hv${'c'.repeat(12)}0`)).toBe(bridge);
    expect(await master(`ht${'d'.repeat(12)}0`)).toBe(bridge);
    // The container's own name server resolves the VM's name.
    const ns = netnsPath(`${scopeNames(dir, false).netnsPrefix}${'c'.repeat(12)}`);
    const answer = await run(['nsenter', `--net=${ns}`, 'busybox', 'nslookup', 'db', '10.232.1.1']);
    expect(answer.stdout).toContain('10.232.1.3');

    await net.down(vm);
    await net.down(ctr);
    expect(await master(`ht${'d'.repeat(12)}0`)).toBeUndefined();
    expect(existsSync(cctx.netnsPath!)).toBe(false);
    await net.release(vm);
    await net.release(ctr);
    expect((await net.inspect('mixed')).containers).toEqual([]);
    await net.remove('mixed');
    expect((await listLinks()).some((l) => l.ifname === bridge)).toBe(false);
  });
});
