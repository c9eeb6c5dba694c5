import { invalid } from '../core/errors.js';
import { isValidName, shortId } from '../core/ids.js';
import type { InstanceType } from '../core/instance.js';
import type { Network, NetworkAttachment, PortMapping } from '../core/network.js';
import type { Endpoint } from './link.js';
import type { RulePort } from './nft.js';

/**
 * Pure helpers over instances' attachments: interface names, endpoints to
 * plug, what name servers answer, which ports rules publish.
 */
export const MAX_INTERFACES = 10;

/** An instance whose network is plugged in now. */
export interface Live {
  id: string;
  name: string;
  networks: NetworkAttachment[];
  ports: PortMapping[];
}

/** The host end of an instance's interface: a veth `hv<id12><n>` (container) or a tap `ht<id12><n>` (VM). */
export function hostIfName(type: InstanceType, id: string, ifName: string): string {
  return `${type === 'vm' ? 'ht' : 'hv'}${shortId(id)}${ifName.replace(/^eth/, '')}`;
}

export const HOST_IF_RE = /^h[vt]([0-9a-f]{12})\d$/;

/** Endpoints for attachments; the first one on an open network carries the default route (unless `routed` already). */
export function toEndpoints(type: InstanceType, id: string, atts: NetworkAttachment[], nets: Network[], routed = false): Endpoint[] {
  return atts.map((a) => {
    const n = nets.find((x) => x.id === a.networkId);
    if (!n) throw invalid(`network "${a.network}" no longer exists: disconnect it`);
    const gateway = !routed && !n.internal ? a.gateway : undefined;
    if (gateway) routed = true;
    return { hostIf: hostIfName(type, id, a.ifName), ifName: a.ifName, bridge: n.bridge, address: a.ipAddress, prefixLen: a.prefixLen, mac: a.macAddress, gateway };
  });
}

/** Check what a create asks for before anything is allocated. */
export function checkRequest(nets: Network[], aliases: string[], ports: PortMapping[]): void {
  if (new Set(nets.map((n) => n.id)).size !== nets.length) throw invalid('a network is given twice');
  if (nets.length > MAX_INTERFACES) throw invalid(`at most ${MAX_INTERFACES} networks per container`);
  for (const a of aliases) if (!isValidName(a)) throw invalid(`invalid network alias "${a}"`);
  if (ports.length && nets[0]?.internal) throw invalid(`network ${nets[0].name} is internal: it cannot publish ports`);
}

/**
 * The networks whose names the asker sees: the one it asked on first, then
 * the others it is on (found by its address on the network asked). A
 * container's resolv.conf names one network's server, so that server answers
 * for all of them, as docker's embedded DNS does.
 */
export function askerNetworks(live: Live[], networkId: string, client: string): string[] {
  const asker = live.find((l) => l.networks.some((a) => a.networkId === networkId && a.ipAddress === client));
  return [networkId, ...(asker?.networks ?? []).map((a) => a.networkId).filter((id) => id !== networkId)];
}

/**
 * What a name server answers: names, short ids and aliases of live
 * instances on a network the asker is on, with their address on a shared
 * network (the one asked first). An alias is a name on its own network only:
 * it answers with the address there.
 */
export function lookupName(live: Live[], networkId: string, name: string, client: string): string[] | undefined {
  const shared = askerNetworks(live, networkId, client);
  const ips: string[] = [];
  for (const l of live) {
    const on = shared.map((id) => l.networks.find((a) => a.networkId === id)).filter((a): a is NetworkAttachment => !!a);
    if (!on.length) continue;
    const byName = l.name.toLowerCase() === name || shortId(l.id) === name;
    const a = byName ? on[0] : on.find((x) => x.aliases.some((al) => al.toLowerCase() === name));
    if (a) ips.push(a.ipAddress);
  }
  return ips.length ? ips : undefined;
}

/** Published ports of live instances, to the address on their first open network. */
export function portRules(live: Live[], nets: Network[]): RulePort[] {
  const internal = new Set(nets.filter((n) => n.internal).map((n) => n.id));
  return live.flatMap((l) => {
    const a = l.networks.find((x) => !internal.has(x.networkId));
    return a ? l.ports.map((p) => ({ ...p, ip: a.ipAddress })) : [];
  });
}
