import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../core/ids.js';
import { newState, type Instance } from '../../core/instance.js';
import { REVISION_LABEL, SLOT_LABEL, type Service } from '../../core/service.js';
import type { ServiceLb } from '../../net/service-lb.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { Apps } from './apps.js';
import { ServiceController, type ServiceEvent } from './controller.js';
import type { ReplicaOps, ReplicaRequest, ServiceNetOps } from './ports.js';
import { HASH_LABEL } from './replicas.js';

/**
 * The controller's loop over a real store with a scale simulation of the
 * instance layer: replicas are records that "run" at once (an image named
 * `bad` never gets ready; `missing` cannot be created). The real instance
 * layer, networks and balancer are in test/integration/services.test.ts.
 */
class FakeReplicas implements ReplicaOps {
  constructor(private store: SqliteStore) {}
  async owned(id: string) {
    return (await this.store.list<Instance>('instance')).filter((i) => i.owner?.id === id);
  }
  async allOwned() {
    return (await this.store.list<Instance>('instance')).filter((i) => i.owner);
  }
  async create(r: ReplicaRequest): Promise<Instance> {
    const image = r.revision.spec.image;
    if (image === 'missing') throw new Error('image "missing" not found');
    const id = newId();
    const now = new Date().toISOString();
    const inst = {
      id,
      name: r.name,
      type: 'container',
      createdAt: now,
      owner: { kind: 'service', id: r.service.id, name: r.service.name },
      node: r.node,
      config: { labels: { [SLOT_LABEL]: String(r.slot), [REVISION_LABEL]: String(r.revision.revision), [HASH_LABEL]: r.revision.hash }, networks: [{ networkId: 'n1', ipAddress: `10.0.0.${Math.floor(Math.random() * 250) + 2}` }] },
      state: { ...newState(), status: 'running', startedAt: now, ...(image === 'bad' ? { health: { status: 'starting', failingStreak: 0, log: [], since: now } } : {}) },
    } as unknown as Instance;
    await this.store.create('instance', id, r.name, inst);
    return inst;
  }
  /** Each removal's stop grace, as asked. */
  graces: number[] = [];
  async remove(id: string, spec: { stopGracePeriodMs: number }) {
    this.graces.push(spec.stopGracePeriodMs);
    await this.store.delete('instance', id);
  }
  async restart() {}
  async cpu() {
    return { usageNs: 0, limit: 0 };
  }
}

class FakeNet implements ServiceNetOps {
  lb = new Map<string, ServiceLb>();
  async vip() {
    return '10.0.0.250';
  }
  async holdIngress() {
    return [];
  }
  async publish(id: string, lb: ServiceLb | undefined) {
    if (lb) this.lb.set(id, lb);
    else this.lb.delete(id);
  }
  async release() {}
  async networkIds() {
    return new Map([['appnet', 'n1']]);
  }
  async drained() {
    return true;
  }
}

const FILE = (image: string, extra = '') => `services:
  web:
    image: ${image}
    networks: [appnet]
    deploy:
      replicas: 3
      update_config: { monitor: 200ms }
      rollback_config: { monitor: 200ms }
${extra}
    x-hull: { ready_timeout: 1s }
networks:
  appnet: { name: appnet }
`;

describe('ServiceController with a simulated instance layer', () => {
  let dir: string;
  let store: SqliteStore;
  let ctl: ServiceController;
  let apps: Apps;
  let net: FakeNet;
  let fake: FakeReplicas;
  const events: ServiceEvent[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hull-ctl-'));
    store = new SqliteStore(join(dir, 'db'));
    net = new FakeNet();
    const log = { info: () => undefined, warn: () => undefined };
    ctl = new ServiceController({
      store,
      replicas: (fake = new FakeReplicas(store)),
      net,
      nodes: async () => [{ id: 'local', hostname: 'h', role: 'manager', arch: 'x86_64', labels: {}, ready: true, capacity: { cpus: 2, memoryBytes: 2 ** 31 }, allocated: { cpus: 0, memoryBytes: 0 } }],
      emit: (e) => events.push(e),
      log,
      resyncMs: 60_000,
    });
    apps = new Apps({
      store,
      controller: ctl,
      networks: { exists: async () => ({ labels: { 'hull.app': 'a' } }), create: async () => undefined, remove: async () => undefined },
      imageId: async (ref) => (ref === 'missing' ? undefined : `sha256:${ref}`),
      vmImageId: async () => undefined,
      emit: (e) => events.push(e),
    });
    await ctl.start();
    events.length = 0;
  });

  afterEach(async () => {
    await ctl.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const apply = (image: string) => apps.apply({ file: 'a.yaml', content: FILE(image), dir: '/', project: 'a' });
  const replicas = async () => (await store.list<Instance>('instance')).sort((x, y) => x.name.localeCompare(y.name));
  const service = async () => (await store.getByName<Service>('service', 'web'))!;
  const until = async (what: string, cond: () => Promise<boolean>, ms = 5000) => {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out: ${what}; service: ${JSON.stringify((await service())?.status)}; events: ${events.map((e) => `${e.action} ${e.reason}`).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('creates the replicas, balances over them, and replaces one removed by hand', async () => {
    await apply('v1');
    await until('3 replicas', async () => (await replicas()).length === 3);
    await until('in rotation', async () => net.lb.get((await service()).id)?.endpoints.length === 3);
    expect(net.lb.get((await service()).id)?.networks).toEqual([{ networkId: 'n1', vip: '10.0.0.250', aliases: [] }]);
    const victim = (await replicas())[1];
    await store.delete('instance', victim.id);
    await until('replaced', async () => (await replicas()).length === 3 && !(await replicas()).some((r) => r.id === victim.id));
    expect((await replicas()).map((r) => r.config.labels[SLOT_LABEL]).sort()).toEqual(['1', '2', '3']);
    await until('rollout complete', async () => (await service()).status.rollout.state === 'complete');
    expect((await service()).status.stableRevision).toBe(1);
  });

  it('rolls a new revision over slot by slot, then rolls back by itself from one that never gets ready', async () => {
    await apply('v1');
    await until('v1 out', async () => (await service()).status.rollout.state === 'complete');
    await apply('v2');
    await until('v2 out', async () => (await service()).status.rollout.state === 'complete' && (await service()).revision === 2);
    expect(new Set((await replicas()).map((r) => r.config.labels[REVISION_LABEL]))).toEqual(new Set(['2']));
    await apply('bad');
    await until('rolled back', async () => (await service()).status.rollout.state === 'rolled-back', 8000);
    const s = await service();
    expect(s.revision).toBe(4);
    expect(s.history.find((h) => h.revision === 4)?.cause).toMatch(/^back to revision 2's template: web\.1\.\w+ did not become ready within 1s/);
    await until('v2 replicas only', async () => (await replicas()).every((r) => r.config.labels[HASH_LABEL] === s.history[1].hash) && (await replicas()).length === 3);
    expect(events.map((e) => e.action)).toContain('rollback');
  });

  it('reports a replica that cannot be created on the service, backs off, and never blocks', async () => {
    await apply('missing');
    await until('message', async () => /could not be created: image "missing" not found \(retrying in \d+s\)/.test((await service()).status.message));
    expect(await replicas()).toEqual([]);
    expect((await service()).status.rollout.message).toMatch(/^not ready: replica 1 could not be created/);
  });

  it('refuses a service with volumes on a daemon without them, changing nothing', async () => {
    const f = FILE('v1').replace('    networks: [appnet]\n', '    networks: [appnet]\n    volumes: ["data:/data"]\n') + 'volumes:\n  data: {}\n';
    await expect(apps.apply({ file: 'a.yaml', content: f, dir: '/', project: 'a' })).rejects.toThrow(/services\.web\.volumes: this daemon has no volumes yet/);
    expect(await store.list('service')).toEqual([]);
  });

  it('scales, and removes every replica when the app is deleted', async () => {
    await apply('v1');
    await until('3', async () => (await replicas()).length === 3);
    await apps.scale('web', 5);
    await until('5', async () => (await replicas()).length === 5);
    await apps.scale('web', 1);
    await until('1', async () => (await replicas()).length === 1);
    expect((await replicas())[0].config.labels[SLOT_LABEL]).toBe('1');
    await apps.delete('a');
    expect(await replicas()).toEqual([]);
    expect(await store.list('service')).toEqual([]);
    expect(net.lb.size).toBe(0);
  });

  it('a deleted service\'s replicas all stop with its grace, even where the controller\'s own pass tears them down', async () => {
    await apps.apply({ file: 'a.yaml', content: FILE('v1', '    stop_grace_period: 0s'), dir: '/', project: 'a' });
    await until('3', async () => (await replicas()).length === 3);
    fake.graces = [];
    await apps.delete('a');
    await until('gone', async () => (await replicas()).length === 0);
    await ctl.settled((await store.list<Service>('service'))[0]?.id ?? '');
    expect(fake.graces.length).toBeGreaterThanOrEqual(3);
    expect(new Set(fake.graces)).toEqual(new Set([0]));
  });
});
