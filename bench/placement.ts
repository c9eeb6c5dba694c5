/**
 * Placement alone, on a simulated cluster at the Kubernetes scalability
 * thresholds (5,000 nodes, 150,000 replicas), on one core: placements per
 * second. The peer, from the same run, is the same placer scoring every
 * feasible node (kube-scheduler with percentageOfNodesToScore=100), so the
 * ratio shows what sampling buys; the goal is ≥ 10,000 placements/s
 * (Nomad's C1M reached about 3,750/s across a whole cluster).
 *
 * A simulation of nodes, by name: no instance is started.
 */
import type { NodeView, PlacementRequest } from '../src/orchestrator/placement/node.js';
import { Placer } from '../src/orchestrator/placement/placer.js';
import { now, ratio, table } from './lib.js';

const GiB = 1024 ** 3;

export interface PlacementResult {
  nodes: number;
  replicas: number;
  services: number;
  sampled: { ms: number; perSecond: number; unplaced: number; maxPerNode: number };
  exhaustive: { ms: number; perSecond: number; unplaced: number; maxPerNode: number };
  ratio: number;
  goalPerSecond: number;
}

function cluster(n: number): NodeView[] {
  const zones = ['a', 'b', 'c', 'd', 'e'];
  return Array.from({ length: n }, (_, i) => ({
    id: `node-${i}`,
    hostname: `node-${i}`,
    role: i < 5 ? 'manager' : 'worker',
    arch: 'x86_64',
    labels: { zone: zones[i % zones.length], disk: i % 4 === 0 ? 'ssd' : 'hdd' },
    ready: i % 97 !== 0, // about 1% of nodes down
    capacity: { cpus: 64, memoryBytes: 256 * GiB },
    allocated: { cpus: 0, memoryBytes: 0 },
  }));
}

/** 1,500 services of 100 replicas: a mix of reservations, constraints and spread preferences. */
function requests(replicas: number, services: number): PlacementRequest[] {
  const per = Math.ceil(replicas / services);
  const out: PlacementRequest[] = [];
  for (let s = 0; s < services && out.length < replicas; s++) {
    const r: PlacementRequest = {
      service: `svc-${s}`,
      demand: { cpus: [0, 0.1, 0.25, 0.5][s % 4], memoryBytes: [0, 128, 256, 512][s % 4] * 1024 * 1024 },
      constraints: s % 5 === 0 ? ['node.labels.disk==ssd'] : s % 7 === 0 ? ['node.role!=manager'] : [],
      spread: s % 3 === 0 ? ['node.labels.zone'] : [],
      maxReplicasPerNode: s % 11 === 0 ? 1 : 0,
      strategy: s % 10 === 9 ? 'binpack' : 'spread',
    };
    for (let k = 0; k < per && out.length < replicas; k++) out.push(r);
  }
  return out;
}

function run(nodes: NodeView[], reqs: PlacementRequest[], exhaustive: boolean) {
  const p = new Placer(nodes, exhaustive ? { scoreAll: true } : {});
  const perNode = new Map<string, number>();
  let unplaced = 0;
  const t0 = now();
  for (const r of reqs) {
    const d = p.place(r);
    if (d.node === undefined) unplaced++;
    else perNode.set(d.node, (perNode.get(d.node) ?? 0) + 1);
  }
  const ms = now() - t0;
  return { ms: Math.round(ms), perSecond: Math.round((reqs.length / ms) * 1000), unplaced, maxPerNode: Math.max(...perNode.values()) };
}

export function placementBench(o: { nodes?: number; replicas?: number; services?: number } = {}): PlacementResult {
  const n = o.nodes ?? 5000;
  const replicas = o.replicas ?? 150_000;
  const services = o.services ?? 1500;
  const nodes = cluster(n);
  const reqs = requests(replicas, services);
  run(nodes, reqs.slice(0, 5000), false); // warm the JIT
  const sampled = run(nodes, reqs, false);
  const exhaustive = run(nodes, reqs, true);
  return { nodes: n, replicas, services, sampled, exhaustive, ratio: ratio(sampled.perSecond, exhaustive.perSecond), goalPerSecond: 10_000 };
}

export function printPlacement(r: PlacementResult): string {
  return (
    `placement: ${r.replicas} replicas of ${r.services} services on ${r.nodes} simulated nodes, one core\n` +
    table(
      ['placer', 'time ms', 'placements/s', 'unplaced', 'max replicas on a node'],
      [
        ['Hull (sampled, as kube-scheduler)', r.sampled.ms, r.sampled.perSecond, r.sampled.unplaced, r.sampled.maxPerNode],
        ['every feasible node scored', r.exhaustive.ms, r.exhaustive.perSecond, r.exhaustive.unplaced, r.exhaustive.maxPerNode],
      ],
    ) +
    `\nHull / exhaustive: ${r.ratio}x the rate; goal ≥ ${r.goalPerSecond}/s: ${r.sampled.perSecond >= r.goalPerSecond ? 'met' : 'MISSED'}\n`
  );
}

if (process.argv[1]?.endsWith('placement.js')) process.stdout.write(printPlacement(placementBench()));
