import { describe, expect, it } from 'vitest';
import { compileConstraint } from './constraints.js';
import type { NodeView, PlacementRequest } from './node.js';
import { Placer, placeAll } from './placer.js';

const GiB = 1024 ** 3;
const node = (id: string, o: Partial<NodeView> = {}): NodeView => ({
  id,
  hostname: id,
  role: 'worker',
  arch: 'x86_64',
  labels: {},
  ready: true,
  capacity: { cpus: 4, memoryBytes: 8 * GiB },
  allocated: { cpus: 0, memoryBytes: 0 },
  ...o,
});
const req = (o: Partial<PlacementRequest> = {}): PlacementRequest => ({ service: 'web', demand: { cpus: 0, memoryBytes: 0 }, constraints: [], spread: [], maxReplicasPerNode: 0, strategy: 'spread', ...o });
const tally = (ds: Array<{ node?: string }>) => ds.reduce<Record<string, number>>((t, d) => ({ ...t, [d.node ?? 'none']: (t[d.node ?? 'none'] ?? 0) + 1 }), {});

describe('placement', () => {
  it('spreads one service’s replicas evenly over nodes', () => {
    const ds = placeAll([node('a'), node('b'), node('c')], Array.from({ length: 9 }, () => req()));
    expect(tally(ds)).toEqual({ a: 3, b: 3, c: 3 });
  });

  it('bin-packs when asked: fills a node before the next', () => {
    const ds = placeAll([node('a'), node('b')], Array.from({ length: 4 }, () => req({ strategy: 'binpack', demand: { cpus: 1, memoryBytes: GiB } })));
    expect(new Set(ds.map((d) => d.node)).size).toBe(1);
  });

  it('takes reserved resources and says why nothing fits, as kube-scheduler does', () => {
    const ds = placeAll([node('a'), node('b', { capacity: { cpus: 1, memoryBytes: GiB } })], Array.from({ length: 3 }, () => req({ demand: { cpus: 2, memoryBytes: 2 * GiB } })));
    expect(ds.slice(0, 2).map((d) => d.node)).toEqual(['a', 'a']);
    expect(ds[2]).toEqual({ reason: '0/2 nodes are available: 2 insufficient cpu (a replica reserves 2)' });
  });

  it('honours swarm’s constraints and max_replicas_per_node', () => {
    const nodes = [node('a', { labels: { zone: 'x' } }), node('b', { labels: { zone: 'y' } }), node('m', { role: 'manager', labels: { zone: 'x' } })];
    const ds = placeAll(nodes, Array.from({ length: 3 }, () => req({ constraints: ['node.labels.zone==x', 'node.role!=manager'], maxReplicasPerNode: 2 })));
    expect(ds.map((d) => d.node)).toEqual(['a', 'a', undefined]);
    expect(ds[2]).toMatchObject({ reason: expect.stringContaining('2 did not match the placement constraints, 1 already run max_replicas_per_node (2)') });
  });

  it('spreads over label domains first (swarm preferences), then over nodes', () => {
    const nodes = [node('a1', { labels: { zone: 'a' } }), node('a2', { labels: { zone: 'a' } }), node('a3', { labels: { zone: 'a' } }), node('b1', { labels: { zone: 'b' } })];
    const ds = placeAll(nodes, Array.from({ length: 4 }, () => req({ spread: ['node.labels.zone'] })));
    const zones = tally(ds.map((d) => ({ node: nodes.find((n) => n.id === d.node)!.labels.zone })));
    expect(zones).toEqual({ a: 2, b: 2 });
  });

  it('skips nodes that are not ready, counts running replicas, and leaves its inputs untouched', () => {
    const nodes = [node('a'), node('b', { ready: false }), node('c')];
    const before = JSON.stringify(nodes);
    const running = [{ req: req(), node: 'a' }];
    expect(placeAll(nodes, [req()], running)).toEqual([{ node: 'c' }]);
    expect(JSON.stringify(nodes)).toBe(before);
  });

  it('gives resources back on release', () => {
    const p = new Placer([node('a', { capacity: { cpus: 1, memoryBytes: GiB } })]);
    const r = req({ demand: { cpus: 1, memoryBytes: GiB } });
    expect(p.place(r)).toEqual({ node: 'a' });
    expect(p.place(r).node).toBeUndefined();
    p.release(r, 'a');
    expect(p.place(r)).toEqual({ node: 'a' });
  });

  it('one host is one node: yes, or no with the reason', () => {
    expect(placeAll([], [req()])).toEqual([{ reason: 'no nodes' }]);
    expect(placeAll([node('local', { capacity: { cpus: 2, memoryBytes: GiB } })], [req({ demand: { cpus: 4, memoryBytes: 0 } })])[0]).toEqual({ reason: '0/1 nodes are available: 1 insufficient cpu (a replica reserves 4)' });
  });

  it('refuses constraints it cannot read', () => {
    expect(() => compileConstraint('node.labels.zone = x')).toThrow(/use ATTRIBUTE==VALUE/);
    expect(() => compileConstraint('node.color==red')).toThrow(/unknown attribute "node.color"/);
    expect(compileConstraint('node.hostname != a')(node('a'))).toBe(false);
  });

  it('gives every node its turn in a large cluster while scoring only a sample', () => {
    const nodes = Array.from({ length: 2000 }, (_, i) => node(`n${i}`));
    const ds = placeAll(nodes, Array.from({ length: 4000 }, (_, i) => req({ service: `s${i % 40}` })));
    const per = tally(ds);
    expect(Object.keys(per).length).toBe(2000);
    expect(Math.max(...Object.values(per))).toBeLessThanOrEqual(3);
  });
});
