/**
 * A node: one daemon's host, as the cluster's store keeps it. On one host
 * there is one; a cluster (next) has one per daemon. `availability` is the
 * operator's word, as swarm's: `active` takes new replicas, `pause` keeps
 * what runs but takes none, `drain` moves its replicas away (on one host:
 * stops them, and the services wait for a node). `status` is the node's own:
 * `ready` while its daemon runs, `down` once it has shut down.
 */
export type Availability = 'active' | 'pause' | 'drain';

export interface Node {
  id: string;
  /** The host's name (`node.hostname` in placement constraints). */
  name: string;
  role: 'manager' | 'worker';
  availability: Availability;
  /** The operator's labels (`hull node update --label-add`), matched by `node.labels.KEY` constraints. */
  labels: Record<string, string>;
  status: 'ready' | 'down';
  platform: { os: 'linux'; arch: string };
  resources: { cpus: number; memoryBytes: number };
  engine: { version: string; kernel: string };
  createdAt: string;
  updatedAt: string;
}

export const AVAILABILITIES: readonly Availability[] = ['active', 'pause', 'drain'];
