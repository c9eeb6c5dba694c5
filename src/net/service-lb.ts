import type { PortProtocol } from '../core/network.js';

/**
 * A service as the network layer sees it: a stable virtual address on each
 * of its networks (endpoint_mode vip), names, published ingress ports, and
 * the replicas ready to take traffic right now. The orchestrator hands these
 * over whenever readiness changes; rules and name answers follow at once.
 *
 * Traffic is balanced in the kernel (nftables: `dnat to numgen random mod N
 * map {…}`, as kube-proxy's nftables mode does): one rule per address, each
 * new connection to one ready replica, established ones left where they are,
 * so a replica taken out of the set drains instead of being cut.
 */
export interface ServiceLb {
  id: string;
  name: string;
  endpointMode: 'vip' | 'dnsrr';
  /** Per network: the service's virtual address (vip mode) and its aliases there. */
  networks: Array<{ networkId: string; vip?: string; aliases: string[] }>;
  /** Ready replicas: their address on each network (by network id). */
  endpoints: Array<{ instanceId: string; addresses: Record<string, string> }>;
  ports: Array<{ hostIp: string; published: number; protocol: PortProtocol; target: number }>;
}

export interface RuleVip {
  ip: string;
  /** Replica addresses on the VIP's own network. */
  endpoints: string[];
}

export interface RuleIngress {
  hostIp: string;
  hostPort: number;
  protocol: PortProtocol;
  targets: Array<{ ip: string; port: number }>;
}

/** The rules' view of services: VIPs with their endpoints on the same network, ingress ports with every ready replica. */
export function serviceRules(services: ServiceLb[], internal: Set<string>): { vips: RuleVip[]; ingress: RuleIngress[] } {
  const vips: RuleVip[] = [];
  const ingress: RuleIngress[] = [];
  for (const s of services) {
    for (const n of s.networks) {
      if (s.endpointMode === 'vip' && n.vip) vips.push({ ip: n.vip, endpoints: s.endpoints.map((e) => e.addresses[n.networkId]).filter(Boolean).sort() });
    }
    // Ingress goes to each replica's address on the service's first open network.
    const open = s.networks.find((n) => !internal.has(n.networkId));
    const targets = (port: number) => (open ? s.endpoints.map((e) => e.addresses[open.networkId]).filter(Boolean).sort().map((ip) => ({ ip, port })) : []);
    for (const p of s.ports) ingress.push({ hostIp: p.hostIp, hostPort: p.published, protocol: p.protocol, targets: targets(p.target) });
  }
  return { vips, ingress };
}

/**
 * A service's name (or alias) asked on a network it is on: its VIP there,
 * or (dnsrr) the addresses of its ready replicas there, in a rotating order.
 */
export function lookupService(services: ServiceLb[], networkId: string, name: string, turn = 0): string[] | undefined {
  for (const s of services) {
    const n = s.networks.find((x) => x.networkId === networkId);
    if (!n || (s.name !== name && !n.aliases.includes(name))) continue;
    if (s.endpointMode === 'vip') return n.vip ? [n.vip] : undefined;
    const ips = s.endpoints.map((e) => e.addresses[networkId]).filter(Boolean).sort();
    if (!ips.length) return undefined;
    const k = turn % ips.length;
    return [...ips.slice(k), ...ips.slice(0, k)];
  }
  return undefined;
}
