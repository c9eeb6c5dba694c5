import { conflict, isHullError, notFound } from '../core/errors.js';
import type { Network, PortMapping } from '../core/network.js';
import type { Service } from '../core/service.js';
import type { Store } from '../store/store.js';
import { run } from '../sys/run.js';
import { allocate, release } from './ipam.js';
import { PORTS_DOC_ID, holdHostPort, hostPortFree, reserve, unreserve, type PortsDoc } from './ports.js';
import type { ServiceLb } from './service-lb.js';

export interface ServiceNetDeps {
  store: Store;
  networks(): Promise<Network[]>;
  /** Rewrite the rules (coalesced): they read `lbs`. */
  sync(): Promise<void>;
  log: { warn(o: object, msg: string): void };
}

/**
 * Services on Hull's networks: a stable address (VIP) per network, taken
 * from the network's IPAM with the service as its holder and bound on the
 * bridge as a /32 (so instances on the bridge reach it and the host answers
 * for it), ingress host ports reserved and held like a container's, and the
 * balancer's view that the rules and name servers read.
 */
export class ServiceNet {
  readonly lbs = new Map<string, ServiceLb>();
  private holds = new Map<string, { key: string; release: Array<() => Promise<void>>; ports: IngressPort[] }>();
  private bound = new Set<string>();

  constructor(private d: ServiceNetDeps) {}

  /** The service's address on a network: the same one every time (the IPAM record keeps it). */
  async vip(serviceId: string, networkName: string): Promise<string> {
    const net = (await this.d.networks()).find((n) => n.name === networkName && !n.removing);
    if (!net) throw notFound(`network "${networkName}"`);
    const have = Object.entries(net.ipam.allocations).find(([, holder]) => holder === serviceId)?.[0];
    if (have) return have;
    let ip = '';
    await this.d.store.update<Network>('network', net.id, (cur) => {
      const a = allocate(cur, serviceId);
      ip = a.ip;
      return a.net;
    });
    return ip;
  }

  async networkIds(): Promise<Map<string, string>> {
    return new Map((await this.d.networks()).filter((n) => !n.removing).map((n) => [n.name, n.id]));
  }

  /** Ingress ports reserved (a picked port stays the same) and held on the host while the service exists. */
  async holdIngress(svc: Service): Promise<IngressPort[]> {
    const wanted = svc.spec.ports.filter((p) => p.mode === 'ingress');
    const key = JSON.stringify(wanted);
    const held = this.holds.get(svc.id);
    if (held && held.key === key) return held.ports;
    await this.dropHolds(svc.id);
    if (!wanted.length) {
      await this.d.store.update<PortsDoc>('meta', PORTS_DOC_ID, (d) => unreserve(d, svc.id));
      return [];
    }
    const before = svc.status.publishedPorts;
    const asked: PortMapping[] = wanted.map((p) => ({
      hostIp: p.hostIp,
      hostPort: p.published || before.find((b) => b.target === p.target && b.protocol === p.protocol)?.published || 0,
      containerPort: p.target,
      protocol: p.protocol,
    }));
    let got: PortMapping[] = [];
    await this.d.store.update<PortsDoc>('meta', PORTS_DOC_ID, (d) => {
      const r = reserve(d, { id: svc.id, name: `service ${svc.name}` }, asked);
      got = r.mappings;
      return r.doc;
    });
    const release: Array<() => Promise<void>> = [];
    try {
      for (const p of got) {
        if (!(await hostPortFree(p))) throw conflict(`port ${p.hostIp || '0.0.0.0'}:${p.hostPort}/${p.protocol} of service ${svc.name} is in use on the host by another program`);
        release.push(await holdHostPort(p));
      }
    } catch (e) {
      await Promise.all(release.map((f) => f()));
      await this.d.store.update<PortsDoc>('meta', PORTS_DOC_ID, (d) => unreserve(d, svc.id));
      throw e;
    }
    const ports = got.map((p) => ({ target: p.containerPort, protocol: p.protocol, published: p.hostPort, hostIp: p.hostIp }));
    this.holds.set(svc.id, { key, release, ports });
    return ports;
  }

  /** The service's balancer view; undefined takes it out. VIPs are bound on their bridges first. */
  async publish(serviceId: string, lb: ServiceLb | undefined): Promise<void> {
    const before = JSON.stringify(this.lbs.get(serviceId));
    if (lb) {
      const nets = await this.d.networks();
      for (const n of lb.networks) {
        const bridge = nets.find((x) => x.id === n.networkId)?.bridge;
        if (bridge && n.vip) await this.bind(bridge, n.vip);
      }
      this.lbs.set(serviceId, lb);
    } else this.lbs.delete(serviceId);
    if (JSON.stringify(lb) !== before) await this.d.sync();
  }

  /** The service is gone: its addresses, ports and rules go. */
  async release(serviceId: string): Promise<void> {
    this.lbs.delete(serviceId);
    await this.dropHolds(serviceId);
    await this.d.store.update<PortsDoc>('meta', PORTS_DOC_ID, (d) => unreserve(d, serviceId)).catch(() => undefined);
    for (const n of await this.d.networks()) {
      const mine = Object.entries(n.ipam.allocations).filter(([, h]) => h === serviceId).map(([ip]) => ip);
      if (!mine.length) continue;
      for (const ip of mine) await this.unbind(n.bridge, ip);
      await this.d.store.update<Network>('network', n.id, (cur) => release(cur, serviceId)).catch((e) => {
        if (!isHullError(e, 'not_found')) throw e;
      });
    }
    await this.d.sync();
  }

  /**
   * Until no established TCP connection through the balancer is open to
   * these addresses (conntrack's replies from them), or the timeout: the
   * replica has left the rotation and finishes what it serves first.
   */
  async drained(addresses: string[], timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      let open = 0;
      for (const a of addresses) open += await established(a);
      if (open === 0) return true;
      if (Date.now() >= end) return false;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Daemon shutdown: the ports' sockets close (the next daemon holds them again). */
  async close(): Promise<void> {
    await Promise.all([...this.holds.keys()].map((id) => this.dropHolds(id)));
  }

  private async dropHolds(id: string): Promise<void> {
    const h = this.holds.get(id);
    this.holds.delete(id);
    await Promise.all((h?.release ?? []).map((f) => f()));
  }

  private async bind(bridge: string, ip: string): Promise<void> {
    const key = `${bridge}/${ip}`;
    if (this.bound.has(key)) return;
    await run(['ip', 'addr', 'replace', `${ip}/32`, 'dev', bridge, 'noprefixroute'], { timeoutMs: 10_000 });
    this.bound.add(key);
  }

  private async unbind(bridge: string, ip: string): Promise<void> {
    this.bound.delete(`${bridge}/${ip}`);
    await run(['ip', 'addr', 'del', `${ip}/32`, 'dev', bridge], { timeoutMs: 10_000, allowFailure: true });
  }
}

export interface IngressPort {
  target: number;
  protocol: 'tcp' | 'udp';
  published: number;
  hostIp: string;
}

async function established(address: string): Promise<number> {
  const r = await run(['conntrack', '-L', '-p', 'tcp', '--reply-src', address, '--state', 'ESTABLISHED'], { timeoutMs: 5000, allowFailure: true }).catch(() => undefined);
  if (!r) return 0; // no conntrack tool: nothing to wait on
  return r.stdout.split('\n').filter((l) => l.startsWith('tcp')).length;
}
