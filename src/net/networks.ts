import { createHash } from 'node:crypto';
import { z } from 'zod';
import { conflict, invalid } from '../core/errors.js';
import { checkName, newId } from '../core/ids.js';
import { RESERVED_NETWORK_NAMES, type Network } from '../core/network.js';
import { formatCidr, formatIp, hostRange, isIpv4, overlaps, parseCidr, parseIp, within, type Cidr } from './ipv4.js';

/** What a client sends to create a network: strict, unknown fields refused. */
export const NetworkCreateSchema = z
  .object({
    name: z.string().min(1),
    subnet: z.string().optional(),
    gateway: z.string().optional(),
    ipRange: z.string().optional(),
    internal: z.boolean().default(false),
    labels: z.record(z.string(), z.string()).default({}),
  })
  .strict();
export type NetworkCreateOptions = z.input<typeof NetworkCreateSchema>;

export const DEFAULT_NETWORK = 'hull0';
/** The default network's subnet, as podman's; if the host already routes it, the next free /16 up to 10.127. */
const DEFAULT_SUBNETS = ['10.88.0.0/16', ...Array.from({ length: 38 }, (_, i) => `10.${90 + i}.0.0/16`)];
/** Networks created without --subnet get the first free /24 from 10.89.0.0 on. */
const POOL = { first: parseIp('10.89.0.0'), last: parseIp('10.127.255.0') };

/**
 * Names that belong to one daemon root: its nftables table and its network
 * namespaces. The default root gets the plain names (`inet hull`, `hull-<id12>`);
 * any other root (tests, a second daemon) a tag of its own, so two daemons never
 * touch each other's rules or namespaces.
 */
export function scopeNames(root: string, isDefaultRoot: boolean): { table: string; netnsPrefix: string } {
  if (isDefaultRoot) return { table: 'hull', netnsPrefix: 'hull-' };
  const tag = createHash('sha256').update(root).digest('hex').slice(0, 6);
  return { table: `hull${tag}`, netnsPrefix: `hull${tag}-` };
}

/**
 * Validate a create request against the networks that exist and the host's
 * routes, and pick what was not given. Throws `invalid` or `conflict`.
 */
export function planNetwork(o: z.output<typeof NetworkCreateSchema>, existing: Network[], routes: Array<{ dst: string; dev: string }>, isDefault = false): Network {
  checkName(o.name, 'network');
  if (RESERVED_NETWORK_NAMES.includes(o.name)) throw invalid(`"${o.name}" is a reserved network name`);
  if (existing.some((n) => n.name === o.name)) throw conflict(`network name "${o.name}" is already in use`);
  const ours = new Set(existing.map((n) => n.bridge));
  const foreign = routes.filter((r) => !ours.has(r.dev));
  const clash = (c: Cidr) => {
    const net = existing.find((n) => overlaps(parseCidr(n.subnet), c));
    if (net) return `network ${net.name} (${net.subnet})`;
    const route = foreign.find((r) => overlaps(parseCidr(r.dst), c));
    return route ? `the host's route to ${route.dst} on ${route.dev}` : undefined;
  };
  let subnet: Cidr;
  if (o.subnet) {
    subnet = parseCidr(o.subnet);
    if (subnet.prefix > 30 || subnet.prefix < 8) throw invalid(`subnet ${o.subnet} must be between /8 and /30`);
    const c = clash(subnet);
    if (c) throw conflict(`subnet ${formatCidr(subnet)} overlaps ${c}`);
  } else {
    if (o.gateway || o.ipRange) throw invalid('--gateway and --ip-range need --subnet');
    subnet = pickSubnet(isDefault, clash);
  }
  const usable = hostRange(subnet);
  const gateway = o.gateway ?? formatIp(usable.first);
  if (!isIpv4(gateway)) throw invalid(`gateway "${gateway}" is not an IPv4 address`);
  const gw = parseIp(gateway);
  if (gw < usable.first || gw > usable.last) throw invalid(`gateway ${gateway} is not a usable address of subnet ${formatCidr(subnet)}`);
  if (o.ipRange && !within(parseCidr(o.ipRange), subnet)) throw invalid(`ip-range ${o.ipRange} is not inside subnet ${formatCidr(subnet)}`);
  const id = newId();
  return {
    id,
    name: o.name,
    driver: 'bridge',
    createdAt: new Date().toISOString(),
    subnet: formatCidr(subnet),
    gateway,
    ...(o.ipRange ? { ipRange: formatCidr(parseCidr(o.ipRange)) } : {}),
    internal: o.internal,
    bridge: `hb-${id.slice(0, 12)}`,
    isDefault,
    labels: o.labels,
    ipam: { allocations: {} },
  };
}

function pickSubnet(isDefault: boolean, clash: (c: Cidr) => string | undefined): Cidr {
  if (isDefault) {
    for (const s of DEFAULT_SUBNETS) if (!clash(parseCidr(s))) return parseCidr(s);
  } else {
    for (let base = POOL.first; base <= POOL.last; base += 256) {
      const c = { base, prefix: 24 };
      if (!clash(c)) return c;
    }
  }
  throw conflict('no free subnet left in 10.88.0.0-10.127.255.255: give one with --subnet');
}

/** By name, full id or unique id prefix. */
export function findNetwork(all: Network[], ref: string): Network | undefined {
  const byName = all.find((n) => n.name === ref || n.id === ref);
  if (byName) return byName;
  if (!/^[0-9a-f]{3,64}$/.test(ref)) return undefined;
  const xs = all.filter((n) => n.id.startsWith(ref));
  if (xs.length > 1) throw invalid(`"${ref}" matches ${xs.length} networks: use more of the id`);
  return xs[0];
}

export function networkSummary(n: Network) {
  const { ipam, removing: _removing, ...rest } = n;
  return { ...rest, containers: new Set(Object.values(ipam.allocations)).size };
}
