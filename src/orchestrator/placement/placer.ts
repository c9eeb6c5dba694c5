import { compileConstraints } from './constraints.js';
import type { Decision, NodeView, PlacementRequest } from './node.js';

/**
 * Placement: filter → score → pick, over nodes' free CPU and memory, labels
 * and constraints, spreading a service's replicas (or bin-packing them).
 *
 * It looks at a bounded sample of feasible nodes per replica, as
 * kube-scheduler does (`percentageOfNodesToScore`: 50% minus 1% per 125
 * nodes, at least 5% and at least 100 nodes), starting each search where the
 * last one stopped so that every node gets its turn. On one host (one node)
 * this is a yes or a no with the reason.
 *
 *   const p = new Placer(nodes);
 *   const d = p.place(req);            // { node } or { reason }, and the node's resources are taken
 *   p.release(req, d.node);            // a replica went away
 */
export class Placer {
  private readonly nodes: NodeView[];
  private readonly freeCpu: Float64Array;
  private readonly freeMem: Float64Array;
  private readonly capCpu: Float64Array;
  private readonly capMem: Float64Array;
  /** Replicas of every service per node: spreads replicas that reserve nothing, which resources alone would not. */
  private readonly total: Int32Array;
  private readonly index = new Map<string, number>();
  private readonly masks = new Map<string, Uint8Array>();
  private readonly services = new Map<string, ServiceCounts>();
  private next = 0;
  private readonly toFind: number;

  /** `scoreAll` scores every feasible node (the bench's peer: kube-scheduler at percentageOfNodesToScore=100). */
  constructor(nodes: NodeView[], opts: { scoreAll?: boolean } = {}) {
    this.nodes = nodes;
    const n = nodes.length;
    this.freeCpu = new Float64Array(n);
    this.freeMem = new Float64Array(n);
    this.capCpu = new Float64Array(n);
    this.capMem = new Float64Array(n);
    this.total = new Int32Array(n);
    nodes.forEach((node, i) => {
      this.index.set(node.id, i);
      this.capCpu[i] = node.capacity.cpus;
      this.capMem[i] = node.capacity.memoryBytes;
      this.freeCpu[i] = node.capacity.cpus - node.allocated.cpus;
      this.freeMem[i] = node.capacity.memoryBytes - node.allocated.memoryBytes;
    });
    const pct = Math.max(5, 50 - Math.floor(n / 125));
    this.toFind = n < 100 || opts.scoreAll ? n : Math.max(100, Math.floor((n * pct) / 100));
  }

  /** Record a replica that already runs on a node (at start-up, or placed elsewhere). */
  assume(req: PlacementRequest, nodeId: string): void {
    const i = this.index.get(nodeId);
    if (i !== undefined) this.take(req, i);
  }

  /** Pick a node for one replica of `req` and take its resources there. */
  place(req: PlacementRequest): Decision {
    const n = this.nodes.length;
    if (n === 0) return { reason: 'no nodes' };
    const eligible = this.mask(req.constraints);
    const sc = this.counts(req.service);
    const spreading = req.strategy === 'spread';
    const cpu = req.demand.cpus;
    const mem = req.demand.memoryBytes;
    const maxPer = req.maxReplicasPerNode;
    let best = -1;
    let bestScore = -Infinity;
    let found = 0;
    let notReady = 0;
    let unmatched = 0;
    let noCpu = 0;
    let noMem = 0;
    let full = 0;
    let i = this.next;
    let seen = 0;
    for (; seen < n && found < this.toFind; seen++, i = i + 1 === n ? 0 : i + 1) {
      if (!this.nodes[i].ready) {
        notReady++;
        continue;
      }
      if (eligible[i] === 0) {
        unmatched++;
        continue;
      }
      if (this.freeCpu[i] < cpu) {
        noCpu++;
        continue;
      }
      if (this.freeMem[i] < mem) {
        noMem++;
        continue;
      }
      const count = sc.perNode[i];
      if (maxPer > 0 && count >= maxPer) {
        full++;
        continue;
      }
      found++;
      const used = ((this.capCpu[i] - this.freeCpu[i] + cpu) / (this.capCpu[i] || 1) + (this.capMem[i] - this.freeMem[i] + mem) / (this.capMem[i] || 1)) / 2;
      let score = spreading ? -count * 1000 - used * 100 - this.total[i] : used * 100 + this.total[i] * 0.01 - count;
      if (req.spread.length) score -= this.domainLoad(sc, req.spread, this.nodes[i]) * 1e6;
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    this.next = i;
    if (best < 0) return { reason: explain(n, { notReady, unmatched, noCpu, noMem, full }, req) };
    this.take(req, best);
    return { node: this.nodes[best].id };
  }

  /** Give back what a replica held on a node. */
  release(req: PlacementRequest, nodeId: string): void {
    const i = this.index.get(nodeId);
    if (i === undefined) return;
    const sc = this.counts(req.service);
    if (sc.perNode[i] === 0) return;
    sc.perNode[i]--;
    this.total[i]--;
    this.freeCpu[i] += req.demand.cpus;
    this.freeMem[i] += req.demand.memoryBytes;
    for (const key of req.spread) {
      const v = this.nodes[i].labels[labelKey(key)] ?? '';
      const m = sc.domains.get(key);
      if (m) m.set(v, (m.get(v) ?? 1) - 1);
    }
  }

  private take(req: PlacementRequest, i: number): void {
    const sc = this.counts(req.service);
    sc.perNode[i]++;
    this.total[i]++;
    this.freeCpu[i] -= req.demand.cpus;
    this.freeMem[i] -= req.demand.memoryBytes;
    for (const key of req.spread) {
      const v = this.nodes[i].labels[labelKey(key)] ?? '';
      let m = sc.domains.get(key);
      if (!m) sc.domains.set(key, (m = new Map()));
      m.set(v, (m.get(v) ?? 0) + 1);
    }
  }

  /** How many of the service's replicas already sit in this node's spread domains (first preference weighs most). */
  private domainLoad(sc: ServiceCounts, spread: string[], node: NodeView): number {
    let load = 0;
    for (let k = 0; k < spread.length; k++) {
      const m = sc.domains.get(spread[k]);
      load += (m?.get(node.labels[labelKey(spread[k])] ?? '') ?? 0) / 10 ** k;
    }
    return load;
  }

  private counts(service: string): ServiceCounts {
    let sc = this.services.get(service);
    if (!sc) this.services.set(service, (sc = { perNode: new Int32Array(this.nodes.length), domains: new Map() }));
    return sc;
  }

  /** Which nodes a set of constraints admits, computed once per distinct set. */
  private mask(constraints: string[]): Uint8Array {
    const key = constraints.join('\u0000');
    let m = this.masks.get(key);
    if (!m) {
      const ok = compileConstraints(constraints);
      m = Uint8Array.from(this.nodes, (n) => (ok(n) ? 1 : 0));
      this.masks.set(key, m);
    }
    return m;
  }
}

interface ServiceCounts {
  perNode: Int32Array;
  domains: Map<string, Map<string, number>>;
}

const labelKey = (spread: string) => spread.replace(/^node\.labels\./, '');

/** As kube-scheduler says it: `0/3 nodes are available: 2 insufficient memory, 1 did not match the constraints`. */
function explain(n: number, c: { notReady: number; unmatched: number; noCpu: number; noMem: number; full: number }, req: PlacementRequest): string {
  const parts: string[] = [];
  if (c.noCpu) parts.push(`${c.noCpu} insufficient cpu (a replica reserves ${req.demand.cpus})`);
  if (c.noMem) parts.push(`${c.noMem} insufficient memory (a replica reserves ${Math.ceil(req.demand.memoryBytes / 1048576)} MiB)`);
  if (c.unmatched) parts.push(`${c.unmatched} did not match the placement constraints`);
  if (c.full) parts.push(`${c.full} already run max_replicas_per_node (${req.maxReplicasPerNode})`);
  if (c.notReady) parts.push(`${c.notReady} not ready`);
  return `0/${n} nodes are available: ${parts.join(', ')}`;
}

/** The pure form: where each request would go on these nodes, the inputs untouched. */
export function placeAll(nodes: NodeView[], requests: PlacementRequest[], running: Array<{ req: PlacementRequest; node: string }> = []): Decision[] {
  const p = new Placer(nodes);
  for (const r of running) p.assume(r.req, r.node);
  return requests.map((r) => p.place(r));
}
