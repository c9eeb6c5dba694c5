/**
 * Network: a bridge on the host that instances join, with its own address
 * plan (IPAM), name service and isolation from other networks. Containers
 * join through a veth pair, VMs (later) through a tap device on the same
 * bridge; both get an address from the network's IPAM.
 *
 * Lifecycle: created (bridge up, rules in place) → in use (instances hold
 * addresses from create until rm) → removed (refused while in use).
 */
export interface Network {
  id: string;
  name: string;
  driver: 'bridge';
  createdAt: string;
  /** IPv4 CIDR, e.g. 10.88.0.0/16. */
  subnet: string;
  gateway: string;
  /** Addresses are handed out from this CIDR (inside the subnet); default: the whole subnet. */
  ipRange?: string;
  /** No traffic leaves the network: no NAT, no forwarding to the outside, no published ports. */
  internal: boolean;
  /** The host bridge, `hb-<id12>`. */
  bridge: string;
  /** The network `hull run` uses when given no --network. */
  isDefault: boolean;
  labels: Record<string, string>;
  /** Address allocations: address → instance id. The last one given starts the next search. */
  ipam: { allocations: Record<string, string>; last?: string };
  /** Set while `network rm` tears it down; a daemon that finds it set finishes the removal. */
  removing?: boolean;
}

/** bridge: join networks (the default one unless named); none: loopback only; host: the host's own network. */
export type NetworkMode = 'bridge' | 'none' | 'host';

/** One instance's place on one network. */
export interface NetworkAttachment {
  networkId: string;
  network: string;
  /** The interface inside the instance: eth0, eth1, ... */
  ifName: string;
  ipAddress: string;
  prefixLen: number;
  gateway: string;
  macAddress: string;
  aliases: string[];
}

export type PortProtocol = 'tcp' | 'udp';

/** A published port: hostIp '' means every host address. */
export interface PortMapping {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: PortProtocol;
}

/** Names with a meaning of their own for --network. */
export const RESERVED_NETWORK_NAMES = ['none', 'host', 'bridge', 'default'];
