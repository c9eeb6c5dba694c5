import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplicaRow, ServiceDetail } from '../../src/api/contract/services.js';
import { haveEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * A daemon whose state is in etcd (`hull daemon --store etcd://…/PREFIX`),
 * through the real CLI on a real etcd: containers, a network, a volume and a
 * 2-replica app; all of it still there after the daemon is SIGKILLed and
 * started again; a second daemon on the prefix refused, naming the first;
 * nothing of it left in etcd once removed; never a SQLite file.
 */
const skipReason = haveEtcd ? undefined : '/usr/bin/etcd is missing (Debian etcd-server; scripts/setup.sh installs it with HULL_SETUP_TEST=1)';

const APP = `
services:
  web:
    image: busybox
    command: ["sleep", "3600"]
    stop_grace_period: 0s
    deploy:
      replicas: 2
`;

describe.skipIf(!!skipReason)(`a daemon on etcd${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let etcd: TestEtcd;
  let client: Etcd3;
  let d: TestDaemon;
  let dir: string;
  let store: string;
  const prefix = `/hull-${randomBytes(4).toString('hex')}`;
  const file = () => join(dir, 'docker-compose.yml');
  const keys = async () => (await client.getAll().prefix(`${prefix}/`).keys()).sort();
  const noSqlite = async (root: string) => expect((await readdir(root)).filter((f) => /\.db/.test(f))).toEqual([]);
  const svc = async () => JSON.parse(await d.ok(['service', 'inspect', 'web']))[0] as ServiceDetail;
  const replicas = async () => JSON.parse(await d.ok(['service', 'ps', 'web', '--format', 'json'])) as ReplicaRow[];
  const readyAt = (n: number) => waitFor(async () => {
    const s = await svc();
    return s.ready === n && s.replicas === n && (await replicas()).length === n;
  }, 30_000);

  /** A daemon on its own fresh root that must refuse to start: its message, and its root left empty. */
  async function refused(storeArg: string): Promise<string> {
    const root = await mkdtemp('/tmp/hull-');
    const other = new TestDaemon(root, join(root, 'hull.sock'));
    other.daemonArgs = ['--store', storeArg];
    try {
      const err = await other.spawn().then(() => undefined, (e: Error) => e.message);
      if (err === undefined) await other.stop();
      expect(err, 'the daemon started').toBeDefined();
      expect(await readdir(root)).toEqual([]);
      return err!;
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }

  beforeAll(async () => {
    etcd = await startEtcd();
    client = new Etcd3({ hosts: etcd.endpoint });
    store = `etcd://${etcd.endpoint.replace('http://', '')}${prefix}`;
    d = await TestDaemon.start(['--store', store]);
    dir = await mkdtemp('/tmp/hull-etcdapp-');
    await writeFile(file(), APP);
  }, 60_000);
  afterAll(async () => {
    await d?.hull(['delete', '-f', file()]).catch(() => undefined);
    await d?.destroy();
    client?.close();
    await etcd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('hull info shows the store; the lock names this daemon; no SQLite file in the root', async () => {
    expect(await d.ok(['info'])).toContain(`Store:            etcd ${etcd.endpoint} (prefix ${prefix})`);
    const info = JSON.parse(await d.ok(['info', '--format', 'json']));
    expect(info.store).toEqual({ kind: 'etcd', endpoints: [etcd.endpoint], prefix, path: null });
    const lock = JSON.parse((await client.get(`${prefix}/daemon/lock`).string())!);
    expect(lock).toMatchObject({ pid: d.proc!.pid, root: d.root });
    expect(Number((await client.get(`${prefix}/daemon/lock`).exec()).kvs[0].lease)).toBeGreaterThan(0);
    await noSqlite(d.root);
  });

  it('runs containers, makes a network, a volume and a 2-replica app, all kept in etcd', async () => {
    expect((await d.ok(['run', '--rm', 'busybox', 'echo', 'hi'])).trim()).toBe('hi');
    await d.ok(['run', '-d', '--name', 'c1', 'busybox', 'sh', '-c', 'echo hello; exec sleep 300']);
    expect(await d.ok(['ps', '--format', '{{.Names}}'])).toContain('c1');
    await waitFor(async () => (await d.ok(['logs', 'c1'])).includes('hello'));
    await d.ok(['stop', '-t', '1', 'c1']);
    await d.ok(['rm', 'c1']);
    expect(await d.ok(['ps', '-a', '--format', '{{.Names}}'])).not.toContain('c1');
    await d.ok(['run', '-d', '--name', 'keep', 'busybox', 'sleep', '3600']);
    await d.ok(['network', 'create', 'n1']);
    await d.ok(['volume', 'create', 'v1']);
    expect(await d.ok(['apply', '-f', file()])).toContain('service web created');
    await readyAt(2);
    const ks = await keys();
    expect(ks).toContain(`${prefix}/instance/name/keep`);
    expect(ks).toContain(`${prefix}/network/name/n1`);
    expect(ks).toContain(`${prefix}/volume/name/v1`);
    expect(ks.filter((k) => k.startsWith(`${prefix}/service/name/`))).toHaveLength(1);
    expect(ks).not.toContain(`${prefix}/instance/name/c1`);
  });

  it('a SIGKILLed daemon started again on the same etcd finds everything, and the app has exactly 2 replicas', async () => {
    const before = { ps: await d.ok(['ps', '-a', '--no-trunc', '-q']), nets: await d.ok(['network', 'ls', '-q']), vols: await d.ok(['volume', 'ls', '-q']) };
    await d.crash();
    await d.spawn();
    expect(await d.ok(['ps', '-a', '--no-trunc', '-q'])).toBe(before.ps);
    expect(await d.state('keep', 'Status')).toBe('running');
    expect(await d.ok(['network', 'ls', '-q'])).toBe(before.nets);
    expect(await d.ok(['volume', 'ls', '-q'])).toBe(before.vols);
    await readyAt(2);
    // Settled: not one replica more while the controller looks again.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await replicas()).toHaveLength(2);
    expect((await d.ok(['ps', '-a', '-q'])).trim().split('\n')).toHaveLength(3);
    await noSqlite(d.root);
  });

  it('a second daemon on the prefix is refused naming the first; a bad --store or a silent etcd is refused too; nothing is made', async () => {
    const msg = await refused(store);
    expect(msg).toContain(`etcd at ${etcd.endpoint}, prefix ${prefix}, is in use by the hull daemon on`);
    expect(msg).toContain(`(pid ${d.proc!.pid}, root ${d.root},`);
    expect(msg).toMatch(/one daemon per store prefix .*expires within 10 s/);
    expect(await refused('etcd://127.0.0.1:1/x')).toMatch(/store etcd http:\/\/127\.0\.0\.1:1 \(prefix \/x\): etcd does not answer/);
    expect(await refused('etcd://127.0.0.1')).toMatch(/--store "etcd:\/\/127\.0\.0\.1": .* is not HOST:PORT/);
    // The first daemon is untouched.
    expect(await d.state('keep', 'Status')).toBe('running');
  });

  it('hull delete and rm leave nothing of it in etcd', async () => {
    await d.ok(['delete', '-f', file()]);
    await d.ok(['rm', '-f', 'keep']);
    await d.ok(['network', 'rm', 'n1']);
    await d.ok(['volume', 'rm', 'v1']);
    const left = await waitFor(async () => {
      const ks = await keys();
      return ks.some((k) => /\/(instance|service|app)\//.test(k)) ? undefined : ks;
    });
    expect(left.filter((k) => /\/(network|volume)\/name\/(n1|v1)$/.test(k))).toEqual([]);
    expect(left).toContain(`${prefix}/daemon/lock`);
    const values = (await client.getAll().prefix(`${prefix}/`).strings());
    expect(Object.values(values).filter((v) => /"(n1|v1|keep)"/.test(v))).toEqual([]);
  });

  it("a daemon whose etcd stops answering past its lock's lease says so, stops and exits 1; started again it goes on", async () => {
    await d.ok(['run', '-d', '--name', 'survivor', 'busybox', 'sleep', '3600']);
    const p = d.proc!;
    const from = d.logs.length;
    etcd.child.kill('SIGSTOP');
    try {
      await waitFor(async () => d.logs.slice(from).includes('STORE LOCK LOST'), 15_000);
    } finally {
      etcd.child.kill('SIGCONT');
    }
    await waitFor(async () => p.exitCode !== null, 20_000);
    expect(p.exitCode).toBe(1);
    expect(d.logs.slice(from)).toMatch(/no keepalive answered by etcd at http:\/\/127\.0\.0\.1:\d+ for 9 s/);
    await d.spawn();
    expect(await d.state('survivor', 'Status')).toBe('running');
    await d.ok(['rm', '-f', 'survivor']);
  });
});
