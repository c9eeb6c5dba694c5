import { run } from '../sys/run.js';
import type { RuleIngress, RuleVip } from './service-lb.js';

/**
 * Hull's nftables rules: one table of its own (`inet hull` for the default
 * root), rendered whole from the store's records and swapped in one atomic
 * `nft -f` transaction. So a restart, a removal or a crash never leaves rules
 * that the records do not explain, and nothing in other tables is touched.
 * Hull's rules only ever accept within its table: a host firewall that drops
 * forwarded traffic still has the last word (Hull does not bypass it).
 */
export interface RuleNetwork {
  bridge: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  /** The port the network's name server listens on, at the gateway; queries to gateway:53 go there. */
  dnsPort?: number;
}

export interface RulePort {
  hostIp: string;
  hostPort: number;
  protocol: 'tcp' | 'udp';
  ip: string;
  containerPort: number;
}

export interface RuleModel {
  table: string;
  networks: RuleNetwork[];
  ports: RulePort[];
  /** Services' virtual addresses and ingress ports, balanced over their ready replicas (service-lb.ts). */
  vips?: RuleVip[];
  ingress?: RuleIngress[];
}

const q = (s: string) => `"${s}"`;

export function renderRules(m: RuleModel): string {
  const nets = m.networks;
  const open = nets.filter((n) => !n.internal);
  const lines: string[] = [`table inet ${m.table} {}`, `delete table inet ${m.table}`, `table inet ${m.table} {`];
  const add = (indent: number, s: string) => lines.push(`${'  '.repeat(indent)}${s}`);
  add(1, `set bridges { type ifname;${nets.length ? ` elements = { ${nets.map((n) => q(n.bridge)).join(', ')} };` : ''} }`);
  const vips = m.vips ?? [];
  add(1, `set vips { type ipv4_addr;${vips.length ? ` elements = { ${vips.map((v) => v.ip).join(', ')} };` : ''} }`);

  // Hull sets route_localnet on its bridges (for 127.0.0.1 → published port), which would also let an
  // instance's hand-made packets to or from 127.0.0.0/8 in to the host's loopback services (CVE-2020-8558).
  // Legitimate 127.0.0.0/8 traffic never arrives on a bridge: the host's own is masqueraded on its way out.
  add(1, 'chain localnet { type filter hook prerouting priority raw; policy accept;');
  add(2, 'iifname @bridges ip daddr 127.0.0.0/8 drop');
  add(2, 'iifname @bridges ip saddr 127.0.0.0/8 drop');
  add(1, '}');

  add(1, 'chain prerouting { type nat hook prerouting priority dstnat; policy accept;');
  for (const n of nets) {
    if (!n.dnsPort) continue;
    for (const proto of ['udp', 'tcp']) add(2, `iifname ${q(n.bridge)} ip daddr ${n.gateway} ${proto} dport 53 dnat ip to ${n.gateway}:${n.dnsPort}`);
  }
  add(2, 'ip daddr @vips jump services');
  add(2, 'fib daddr type local jump published');
  add(1, '}');
  // The host's own connections to a published port, 127.0.0.1 included, and to services' addresses.
  add(1, 'chain output { type nat hook output priority -100; policy accept;');
  add(2, 'ip daddr @vips jump services');
  add(2, 'fib daddr type local jump published');
  add(1, '}');
  add(1, 'chain published {');
  for (const p of m.ports) add(2, `${p.hostIp ? `ip daddr ${p.hostIp} ` : 'meta nfproto ipv4 '}${p.protocol} dport ${p.hostPort} dnat ip to ${p.ip}:${p.containerPort}`);
  for (const p of m.ingress ?? []) {
    if (!p.targets.length) continue; // no ready replica: the held port refuses the connection
    const to = p.targets.length === 1 ? `${p.targets[0].ip}:${p.targets[0].port}` : `numgen random mod ${p.targets.length} map { ${p.targets.map((t, i) => `${i} : ${t.ip} . ${t.port}`).join(', ')} }`;
    add(2, `${p.hostIp ? `ip daddr ${p.hostIp} ` : 'meta nfproto ipv4 '}${p.protocol} dport ${p.hostPort} dnat ip to ${to}`);
  }
  add(1, '}');
  // A service's address, any port: one ready replica per new connection (the port kept).
  add(1, 'chain services {');
  for (const v of vips) {
    if (!v.endpoints.length) continue;
    const to = v.endpoints.length === 1 ? v.endpoints[0] : `numgen random mod ${v.endpoints.length} map { ${v.endpoints.map((e, i) => `${i} : ${e}`).join(', ')} }`;
    add(2, `ip daddr ${v.ip} dnat ip to ${to}`);
  }
  add(1, '}');
  // What reached a service's address without a replica to go to is refused, never delivered to the host's own programs.
  add(1, 'chain input { type filter hook input priority filter; policy accept;');
  // Only new connections: replies to the host's own connections to a VIP come back to it (the VIP is their source).
  add(2, 'ip daddr @vips ct state new meta l4proto tcp reject with tcp reset');
  add(2, 'ip daddr @vips ct state new reject');
  add(1, '}');

  add(1, 'chain postrouting { type nat hook postrouting priority srcnat; policy accept;');
  for (const n of open) {
    // From the host's loopback (needs route_localnet on the bridge), and hairpin: a container to a port published by its own network.
    add(2, `oifname ${q(n.bridge)} ip saddr 127.0.0.0/8 masquerade`);
    add(2, `oifname ${q(n.bridge)} ip saddr ${n.subnet} ct status dnat masquerade`);
    add(2, `ip saddr ${n.subnet} oifname != ${q(n.bridge)} masquerade`);
  }
  add(1, '}');

  // Within a network: yes. Internal networks: nothing else, published ports of others included.
  // Into an open network: published ports (from anywhere) and replies; out of it: anywhere but another network.
  add(1, 'chain forward { type filter hook forward priority filter; policy accept;');
  for (const n of nets) add(2, `iifname ${q(n.bridge)} oifname ${q(n.bridge)} accept`);
  for (const n of nets.filter((x) => x.internal)) {
    add(2, `iifname ${q(n.bridge)} drop`);
    add(2, `oifname ${q(n.bridge)} drop`);
  }
  for (const n of open) add(2, `oifname ${q(n.bridge)} ct status dnat accept`);
  for (const n of open) add(2, `iifname ${q(n.bridge)} oifname @bridges drop`);
  for (const n of open) {
    add(2, `oifname ${q(n.bridge)} ct state established,related accept`);
    add(2, `oifname ${q(n.bridge)} drop`);
  }
  add(1, '}');
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/**
 * Hull's networks are IPv4 only, so no instance is a router for IPv6: its
 * router advertisements and redirects are dropped as they enter a bridge
 * from an instance's port (a veth `hv…` or a tap `ht…`), before they reach
 * other instances (or the host, already deaf: link.ts deafToIpv6). Without
 * this a container with CAP_NET_RAW, or any VM's guest, could give its
 * neighbours an IPv6 address and make itself their default router
 * (CVE-2020-13401 among instances). A table of the bridge family, named as
 * the inet one; it depends on nothing in the records, so it is made once at
 * start, apart from the inet table: a kernel without bridge-family nftables
 * then loses only this guard, not every rule.
 */
export function renderRouterGuard(table: string): string {
  const drops = ['"hv*"', '"ht*"'].map((port) => `    iifname ${port} icmpv6 type { nd-router-advert, nd-redirect } drop`);
  const chain = (hook: string) => [`  chain ${hook} { type filter hook ${hook} priority filter; policy accept;`, ...drops, '  }'];
  return `${[`table bridge ${table} {}`, `delete table bridge ${table}`, `table bridge ${table} {`, ...chain('forward'), ...chain('input'), '}'].join('\n')}\n`;
}

export async function applyRouterGuard(table: string): Promise<void> {
  await run(['nft', '-f', '-'], { input: renderRouterGuard(table), timeoutMs: 10_000 });
}

/** Replace Hull's table with the rendered one, atomically. */
export async function applyRules(m: RuleModel): Promise<void> {
  await run(['nft', '-f', '-'], { input: renderRules(m), timeoutMs: 10_000 });
}

export async function deleteTable(table: string): Promise<void> {
  for (const family of ['inet', 'bridge']) await run(['nft', 'delete', 'table', family, table], { timeoutMs: 10_000, allowFailure: true });
}

export async function tableExists(table: string): Promise<boolean> {
  const r = await run(['nft', 'list', 'table', 'inet', table], { timeoutMs: 10_000, allowFailure: true });
  return r.code === 0;
}
