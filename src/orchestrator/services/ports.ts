import type { Instance } from '../../core/instance.js';
import type { Service, ServiceRevision, ServiceSpec } from '../../core/service.js';
import type { ServiceLb } from '../../net/service-lb.js';

/**
 * What the service controller needs from the layers below it: the instance
 * lifecycle (replicas are ordinary instances with an owner) and the network
 * (addresses, balancing, names). The daemon wires the real ones; tests of
 * the controller's loop may use fakes.
 */
export interface ReplicaRequest {
  service: Service;
  revision: ServiceRevision;
  slot: number;
  name: string;
  /** The node placement chose. */
  node: string;
}

export interface ReplicaOps {
  /** Every instance the service owns, any state (a half-made one included). */
  owned(serviceId: string): Promise<Instance[]>;
  /** Every instance owned by any service: orphans of deleted services are found with it. */
  allOwned(): Promise<Instance[]>;
  /** Make and start one replica; owned and labelled from the first record on. */
  create(r: ReplicaRequest): Promise<Instance>;
  /** Stop (the service's stop signal, then SIGKILL after the grace period) and remove; idempotent. */
  remove(id: string, spec: Pick<ServiceSpec, 'stopSignal' | 'stopGracePeriodMs'>): Promise<void>;
  /** An unhealthy replica: kill it; its restart policy brings it back with back-off. */
  restart(id: string): Promise<void>;
  /** CPU time used so far (ns) and the CPU limit (cpus, 0: none), for autoscaling. */
  cpu(id: string): Promise<{ usageNs: number; limit: number }>;
}

export interface ServiceNetOps {
  /** The service's stable address on a network: allocated once, then the same one. */
  vip(serviceId: string, network: string): Promise<string>;
  /** Ingress host ports: reserved and held on the host while the service exists (0: pick one). */
  holdIngress(service: Service): Promise<Array<{ target: number; protocol: 'tcp' | 'udp'; published: number; hostIp: string }>>;
  /** The balancer's and name servers' view of the service now (undefined: it is gone). */
  publish(serviceId: string, lb: ServiceLb | undefined): Promise<void>;
  /** Give back the service's addresses and ports. */
  release(serviceId: string): Promise<void>;
  /** Network ids by name, for replicas' addresses. */
  networkIds(): Promise<Map<string, string>>;
  /** Wait until no connection through the balancer is open to these addresses, at most `timeoutMs`. */
  drained(addresses: string[], timeoutMs: number): Promise<boolean>;
}
