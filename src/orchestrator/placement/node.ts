/**
 * A node as placement sees it: what it offers, what is already promised to
 * replicas on it, and the attributes constraints test. One host is one node
 * (nodes/nodes.ts makes the views from the store's nodes); a cluster has many.
 */
export interface NodeView {
  id: string;
  hostname: string;
  role: 'manager' | 'worker';
  arch: string;
  labels: Record<string, string>;
  /** Accepting new replicas (a cluster drains or loses nodes). */
  ready: boolean;
  /** Its replicas are to move away (`availability: drain`). */
  draining?: boolean;
  capacity: Resources;
  /** Reserved by the replicas placed on it. */
  allocated: Resources;
}

export interface Resources {
  cpus: number;
  memoryBytes: number;
}

/** What one replica asks of a node. */
export interface PlacementRequest {
  /** The service it belongs to (spread and max-per-node count within it). */
  service: string;
  /** Reserved resources (a replica without reservations asks for none, as in swarm and Kubernetes). */
  demand: Resources;
  constraints: string[];
  /** Label keys to spread over (swarm's `preferences: - spread: node.labels.zone`). */
  spread: string[];
  /** 0: no limit. */
  maxReplicasPerNode: number;
  /** spread: least loaded first (the default); binpack: fill nodes before using new ones. */
  strategy: 'spread' | 'binpack';
}

export type Decision = { node: string } | { node?: undefined; reason: string };
