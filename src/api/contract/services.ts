import { z } from 'zod';
import type { RolloutState, ServiceRevision, ServiceSpec, ServiceStatus } from '../../core/service.js';

/**
 * The services API's contract: request bodies (zod, strict) and response
 * shapes (types), shared by the routes and the CLI (and the dashboard
 * later), so both ends agree by construction.
 */

/** POST /v1/apps/apply (and /v1/apps/diff, /v1/apps/delete): a Compose file as the client read it. */
export const ApplyBody = z
  .object({
    /** The file's name as the user gave it, for messages. */
    file: z.string().min(1).max(4096),
    content: z.string().max(4 * 1024 * 1024),
    /** `-p NAME`: the app's name (default: the file's `name:`, else its directory's name). */
    project: z.string().min(1).max(63).optional(),
    /** Where relative paths in the file point (the file's directory); absent (a file pasted in the dashboard): relative paths are refused. */
    dir: z.string().min(1).max(4096).optional(),
    /** The client's variables the file refers to. */
    env: z.record(z.string(), z.string()).default({}),
    /** env_file contents, by the path the file names. */
    envFiles: z.record(z.string(), z.string().max(1024 * 1024)).default({}),
    prune: z.boolean().default(false),
  })
  .strict();
export type ApplyBodyInput = z.input<typeof ApplyBody>;

export const ScaleBody = z.object({ replicas: z.number().int().min(0).max(1000) }).strict();
export const UndoBody = z.object({ toRevision: z.number().int().min(1).optional() }).strict();

export interface ApplyChange {
  kind: 'service' | 'network';
  name: string;
  change: 'create' | 'update' | 'scale' | 'config' | 'none' | 'delete' | 'keep';
  diff: string[];
}

export interface ApplyResult {
  app: string;
  warnings: string[];
  changes: ApplyChange[];
}

export interface ReplicaRow {
  id: string;
  name: string;
  slot: number;
  revision: number;
  /** The instance's status (running, exited, …). */
  state: string;
  /** none, starting, healthy, unhealthy. */
  health: string;
  /** Taking traffic now. */
  ready: boolean;
  draining: boolean;
  node: string;
  addresses: Record<string, string>;
  restarts: number;
  exitCode: number;
  /** When the restart policy starts it again (a crash loop's next attempt). */
  nextRestartAt?: string;
  error: string;
  startedAt: string;
  kind: 'container' | 'container(vm)' | 'vm';
}

export interface ServiceSummary {
  id: string;
  name: string;
  app: string;
  kind: 'container' | 'vm';
  isolation: 'container' | 'vm';
  image: string;
  mode: 'vip' | 'dnsrr';
  replicas: number;
  ready: number;
  revision: number;
  rollout: RolloutState;
  ports: string[];
  vips: Record<string, string>;
  message: string;
}

export interface ServiceDetail extends ServiceSummary {
  createdAt: string;
  updatedAt: string;
  isolationReason: string;
  spec: ServiceSpec;
  status: ServiceStatus;
  history: Array<Pick<ServiceRevision, 'revision' | 'createdAt' | 'cause' | 'hash'> & { image: string }>;
  replicasDetail: ReplicaRow[];
}
