import { invalid, notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { EventLog } from '../../core/events.js';
import type { Instance } from '../../core/instance.js';
import type { Availability, Node } from '../../core/node.js';
import type { Service } from '../../core/service.js';
import type { Store } from '../../store/store.js';
import type { NodeView } from '../placement/node.js';

/** What a daemon knows of its own host when it starts. */
export type NodeFacts = Pick<Node, 'name' | 'platform' | 'resources' | 'engine'>;

/** `hull node update`: labels to add (k=v) and remove (k), and the availability. */
export interface NodeChange {
  labelAdd?: Record<string, string>;
  labelRm?: string[];
  availability?: Availability;
}

/** The id replicas carried before nodes had ids of their own. */
const LEGACY_LOCAL = 'local';

/**
 * The nodes in the store, and this daemon's own. `register` at start-up makes
 * or refreshes this host's node (its id kept in the store's meta, so it
 * survives restarts and stays with the state, not the machine), `down` at
 * shutdown. Placement sees nodes through `view`: the operator's labels and
 * availability, and what the replicas placed on each reserve.
 *
 *   const nodes = new Nodes(store);
 *   const self = await nodes.register({ name: hostname(), ... });
 *   await nodes.update('web-1', { labelAdd: { disk: 'ssd' }, availability: 'drain' });
 */
export class Nodes {
  private selfId?: string;

  /** `events`: where a node's changes are told (`hull events --filter type=node`), as swarm's node events. */
  constructor(
    private store: Store,
    private events?: Pick<EventLog, 'publish'>,
  ) {}

  get self(): string {
    if (!this.selfId) throw new Error('this node is not registered yet');
    return this.selfId;
  }

  async register(facts: NodeFacts, now = new Date().toISOString()): Promise<Node> {
    const meta = await this.store.get<{ id: string }>('meta', 'node-self');
    const id = meta?.id ?? newId();
    if (!meta) await this.store.create('meta', 'node-self', null, { id });
    this.selfId = id;
    const cur = await this.store.get<Node>('node', id);
    const node: Node = { id, role: 'manager', availability: 'active', labels: {}, createdAt: now, ...cur, ...facts, status: 'ready', updatedAt: now };
    await this.store.batch([{ op: 'put', kind: 'node', id, name: node.name, doc: node }]);
    await this.adoptLegacyReplicas(id);
    this.events?.publish('node', cur ? 'update' : 'create', id, { name: node.name, state: 'ready' });
    return node;
  }

  /** This daemon stops: its node is down until it starts again. */
  async down(): Promise<void> {
    if (!this.selfId) return;
    await this.store.update<Node>('node', this.selfId, (n) => ({ ...n, status: 'down', updatedAt: new Date().toISOString() })).catch(() => undefined);
  }

  list(): Promise<Node[]> {
    return this.store.list<Node>('node');
  }

  /** By id, unique id prefix, or name. */
  async get(ref: string): Promise<Node> {
    const all = await this.list();
    const hit = all.find((n) => n.id === ref) ?? all.find((n) => n.name === ref);
    if (hit) return hit;
    const byPrefix = ref.length >= 3 ? all.filter((n) => n.id.startsWith(ref)) : [];
    if (byPrefix.length === 1) return byPrefix[0];
    if (byPrefix.length > 1) throw invalid(`node "${ref}" is ambiguous: ${byPrefix.length} nodes' ids start with it`);
    throw notFound(`node "${ref}"`);
  }

  async update(ref: string, c: NodeChange): Promise<Node> {
    const { id, availability: before } = await this.get(ref);
    for (const k of [...Object.keys(c.labelAdd ?? {}), ...(c.labelRm ?? [])]) if (!/^[a-zA-Z0-9][a-zA-Z0-9_.\-/]{0,127}$/.test(k)) throw invalid(`node label "${k}": use letters, digits, _ . - / (at most 128)`);
    const node = await this.store.update<Node>('node', id, (n) => {
      const labels = { ...n.labels, ...c.labelAdd };
      for (const k of c.labelRm ?? []) {
        if (!(k in labels)) throw invalid(`node ${n.name} has no label "${k}"`);
        delete labels[k];
      }
      return { ...n, labels, availability: c.availability ?? n.availability, updatedAt: new Date().toISOString() };
    });
    // As swarm's: availability.old/new when it changed, and the labels as they are now.
    const moved: Record<string, string> = node.availability !== before ? { 'availability.old': before, 'availability.new': node.availability } : {};
    this.events?.publish('node', 'update', id, { name: node.name, ...moved, ...Object.fromEntries(Object.entries(node.labels).map(([k, v]) => [`label.${k}`, v])) });
    return node;
  }

  /** The nodes whose replicas are to move away. */
  async draining(): Promise<Set<string>> {
    return new Set((await this.list()).filter((n) => n.availability === 'drain').map((n) => n.id));
  }

  /** Every node as placement sees it, with what service replicas on it reserve. */
  async views(): Promise<NodeView[]> {
    const [nodes, services, instances] = await Promise.all([this.list(), this.store.list<Service>('service'), this.store.list<Instance>('instance')]);
    const spec = new Map(services.map((s) => [s.id, s.spec.resources]));
    return nodes.map((n) => {
      let cpus = 0;
      let memoryBytes = 0;
      for (const i of instances) {
        const r = i.owner && i.node === n.id && i.state.status !== 'exited' ? spec.get(i.owner.id) : undefined;
        cpus += r?.reserveCpus ?? 0;
        memoryBytes += r?.reserveMemoryBytes ?? 0;
      }
      return {
        id: n.id,
        hostname: n.name,
        role: n.role,
        arch: n.platform.arch,
        labels: n.labels,
        ready: n.status === 'ready' && n.availability === 'active',
        draining: n.availability === 'drain',
        capacity: n.resources,
        allocated: { cpus, memoryBytes },
      };
    });
  }

  /** Replicas placed before nodes had ids ("local", or none) are this node's. */
  private async adoptLegacyReplicas(id: string): Promise<void> {
    for (const i of await this.store.list<Instance>('instance')) {
      if (!i.owner || (i.node && i.node !== LEGACY_LOCAL)) continue;
      await this.store.update<Instance>('instance', i.id, (cur) => ({ ...cur, node: id })).catch(() => undefined);
    }
  }
}
