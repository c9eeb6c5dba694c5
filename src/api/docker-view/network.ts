import type { Network } from '../../core/network.js';

/**
 * A network in docker's shape (`GET /networks/{id}`, NetworkResource), from
 * what Hull's network inspect gives. Pure, as container.ts.
 */
export interface NetworkLike extends Omit<Network, 'ipam' | 'removing'> {
  containers?: Array<{ id: string; name: string; ipAddress: string; macAddress: string }> | number;
}

export function networkJson(n: NetworkLike) {
  const prefix = n.subnet.split('/')[1] ?? '';
  const members = Array.isArray(n.containers) ? n.containers : [];
  return {
    Name: n.name,
    Id: n.id,
    Created: n.createdAt,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: n.subnet, Gateway: n.gateway, ...(n.ipRange ? { IPRange: n.ipRange } : {}) }] },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: Object.fromEntries(
      members.map((m) => [m.id, { Name: m.name, EndpointID: `${n.id.slice(0, 32)}${m.id.slice(0, 32)}`, MacAddress: m.macAddress, IPv4Address: `${m.ipAddress}/${prefix}`, IPv6Address: '' }]),
    ),
    Options: { 'com.docker.network.bridge.name': n.bridge },
    Labels: n.labels,
  };
}
