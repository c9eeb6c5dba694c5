/**
 * Service: a desired set of replicas of one container or VM spec, kept
 * running by the orchestrator. A service belongs to an app (the Compose file
 * it came from, `hull apply -f`), has a history of revisions (each change of
 * its spec makes one; scaling does not), and owns the instances it made
 * (their `owner` names the service, labels carry the revision and slot).
 *
 * Desired and observed are apart: `spec` and `replicas` are what the user
 * asked for and live in the shared store (any node of a cluster reads them);
 * `status` is what the reconciler last saw and did.
 *
 *   apply → Service{revision 1}                 reconciler: 3 replicas of rev 1
 *   apply (image changed) → revision 2          rollout 1 → 2 within update_config
 *   a rev-2 replica never becomes ready         rollback to rev 1 (failure_action)
 *   scale web=5                                 replicas = 5, same revision
 */
import type { HealthCheck } from './health.js';
import type { PortProtocol } from './network.js';

export type EndpointMode = 'vip' | 'dnsrr';
export type FailureAction = 'rollback' | 'pause' | 'continue';
export type UpdateOrder = 'stop-first' | 'start-first';

/** How replicas are rolled over when the spec changes (update_config / rollback_config). */
export interface UpdateConfig {
  /** Replicas changed at once (0: all at once). */
  parallelism: number;
  /** Wait between batches. */
  delayMs: number;
  failureAction: FailureAction;
  /** How long a new replica is watched after it became ready before it counts as good. */
  monitorMs: number;
  /** Failed replicas tolerated during an update, as a fraction of those updated. */
  maxFailureRatio: number;
  order: UpdateOrder;
  /** How long a new replica may take to become ready before it counts as failed. */
  readyTimeoutMs: number;
}

export interface RestartConfig {
  condition: 'none' | 'on-failure' | 'any';
  /** First back-off; doubles per consecutive failure up to maxDelayMs. */
  delayMs: number;
  maxDelayMs: number;
  /** Give up after this many restarts within windowMs (0: never give up). */
  maxAttempts: number;
  /** A replica that ran this long cleanly resets its back-off. */
  windowMs: number;
}


export interface ServicePort {
  /** The port inside each replica. */
  target: number;
  /** The host port (0: pick one). */
  published: number;
  protocol: PortProtocol;
  /** ingress: balanced over every ready replica; host: one replica's own port (as swarm). */
  mode: 'ingress' | 'host';
  hostIp: string;
}

export interface ServiceNetwork {
  /** A Hull network's name. */
  name: string;
  aliases: string[];
}

export interface ServiceMount {
  type: 'volume' | 'bind' | 'tmpfs';
  source: string;
  target: string;
  readOnly: boolean;
}

export interface Autoscale {
  min: number;
  max: number;
  /** Target CPU use per replica, in percent of its CPU limit (or of one CPU without a limit). */
  targetCpuPercent: number;
  scaleDownWindowMs: number;
}

/** A VM replica: what `hull vm create` takes. */
export interface ServiceVm {
  image: string;
  diskBytes?: number;
  userScript?: string;
}

export interface ServiceSpec {
  /** container: replicas are containers (isolation says which kind); vm: replicas are VMs. */
  kind: 'container' | 'vm';
  /** For containers: where the program runs; `reason` says why when Hull chose it (isolation: auto). */
  isolation: 'container' | 'vm';
  isolationReason?: string;
  /** The container image (kind container); empty for VM services. */
  image: string;
  vm?: ServiceVm;
  command?: string[];
  entrypoint?: string[];
  env: string[];
  workingDir?: string;
  user?: string;
  tty: boolean;
  stdinOpen: boolean;
  /** Labels on each replica. */
  labels: Record<string, string>;
  resources: { cpus?: number; memoryBytes?: number; pidsLimit?: number; reserveCpus?: number; reserveMemoryBytes?: number };
  networks: ServiceNetwork[];
  ports: ServicePort[];
  mounts: ServiceMount[];
  /** undefined: the image's HEALTHCHECK if it has one; null: none (disabled). */
  healthcheck?: HealthCheck | null;
  restart: RestartConfig;
  update: UpdateConfig;
  rollback: UpdateConfig;
  placement: { constraints: string[]; spread: string[]; maxReplicasPerNode: number };
  endpointMode: EndpointMode;
  autoscale?: Autoscale;
  stopGracePeriodMs: number;
  stopSignal: string;
}

export interface ServiceRevision {
  revision: number;
  spec: ServiceSpec;
  createdAt: string;
  /** apply, rollback (automatic), undo (by hand). */
  cause: string;
  /** The replica template's hash: replicas made from an equal template count as this revision's. */
  hash: string;
  /** The image the tag named when the revision was made (a moved tag is a new revision). */
  imageId: string;
}

export type RolloutState = 'none' | 'progressing' | 'complete' | 'rolling-back' | 'rolled-back' | 'paused';

export interface ServiceStatus {
  /** `from`: the revision a failed update goes back to; `lastBatchAt`: when the last batch began (for `delay`). */
  rollout: { state: RolloutState; from: number; to: number; message: string; updatedAt: string; lastBatchAt?: string };
  /** The last revision whose rollout completed. */
  stableRevision?: number;
  /** The stable address of the service on each of its networks (endpoint_mode vip). */
  vips: Record<string, string>;
  /** Host ports given to the service's ingress ports, target/protocol → host port. */
  publishedPorts: Array<{ target: number; protocol: PortProtocol; published: number; hostIp: string }>;
  /** Why the service cannot make progress, when it cannot (a missing image, a taken port). */
  message: string;
  /** The next retry after a failure of the service as a whole (not of one replica). */
  retryAt?: string;
  autoscale?: { lastScaleUpAt?: string; lastScaleDownAt?: string; lastCpuPercent?: number; message?: string };
}

export interface Service {
  id: string;
  name: string;
  /** The app (Compose project) it came from. */
  app: string;
  createdAt: string;
  updatedAt: string;
  /** The revision replicas should run. */
  revision: number;
  spec: ServiceSpec;
  /** Desired replicas (scaling changes this, not the revision). */
  replicas: number;
  /** Kept revisions, newest last (the current one included). */
  history: ServiceRevision[];
  status: ServiceStatus;
}

/** Labels the orchestrator puts on the instances it makes; the owner is also in `Instance.owner`. */
export const SERVICE_LABEL = 'hull.service';
export const REVISION_LABEL = 'hull.service.revision';
export const SLOT_LABEL = 'hull.service.slot';
export const APP_LABEL = 'hull.app';

/** Revisions kept per service (as Kubernetes' revisionHistoryLimit). */
export const HISTORY_LIMIT = 10;

export const SERVICE_NAME_RE = /^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$/;
