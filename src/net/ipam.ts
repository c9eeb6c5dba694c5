import { HullError, conflict, invalid } from '../core/errors.js';
import type { Network } from '../core/network.js';
import { contains, formatIp, hostRange, parseCidr, parseIp } from './ipv4.js';

/**
 * IPAM over a Network document: pure functions, called inside the store's
 * atomic update so two allocations never see the same free address. The
 * allocation table lives in the network's record, so it survives restarts.
 * Dynamic addresses come from the ip-range (default: the subnet), searched
 * round-robin from the last one given, so a freed address is not handed out
 * again at once. A requested address (--ip) may be anywhere in the subnet.
 */
export function allocate(net: Network, instanceId: string, requested?: string): { net: Network; ip: string } {
  const subnet = parseCidr(net.subnet);
  const usable = hostRange(subnet);
  const gw = parseIp(net.gateway);
  const taken = net.ipam.allocations;
  let ip: number;
  if (requested) {
    ip = parseIp(requested);
    if (!contains(subnet, ip) || ip < usable.first || ip > usable.last) throw invalid(`address ${requested} is not a usable address of network ${net.name} (${net.subnet})`);
    if (ip === gw) throw invalid(`address ${requested} is the gateway of network ${net.name}`);
    const owner = taken[requested];
    if (owner && owner !== instanceId) throw conflict(`address ${requested} is already in use on network ${net.name}`);
  } else {
    ip = nextFree(net, gw);
  }
  const s = formatIp(ip);
  return { net: { ...net, ipam: { allocations: { ...taken, [s]: instanceId }, last: requested ? net.ipam.last : s } }, ip: s };
}

function nextFree(net: Network, gw: number): number {
  const subnet = parseCidr(net.subnet);
  const range = net.ipRange ? parseCidr(net.ipRange) : subnet;
  const usable = hostRange(subnet);
  const first = Math.max(range.base, usable.first);
  const lastIp = Math.min(range.base + 2 ** (32 - range.prefix) - 1, usable.last);
  const count = lastIp - first + 1;
  const prev = net.ipam.last ? parseIp(net.ipam.last) : first - 1;
  const start = prev >= first && prev <= lastIp ? prev + 1 - first : 0;
  for (let i = 0; i < count; i++) {
    const ip = first + ((start + i) % count);
    if (ip !== gw && !net.ipam.allocations[formatIp(ip)]) return ip;
  }
  throw new HullError('resource', `network ${net.name} has no free addresses left in ${net.ipRange ?? net.subnet}`);
}

/** Give back every address the instance holds on this network. */
export function release(net: Network, instanceId: string): Network {
  const allocations = Object.fromEntries(Object.entries(net.ipam.allocations).filter(([, id]) => id !== instanceId));
  return { ...net, ipam: { ...net.ipam, allocations } };
}

/** Instances holding addresses on this network. */
export function holders(net: Network): string[] {
  return [...new Set(Object.values(net.ipam.allocations))];
}
