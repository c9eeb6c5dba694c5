import type { ServiceSpec } from '../../core/service.js';

/** A network an app declares: made by apply (named `<app>_<key>` unless the file names it), or external (must exist). */
export interface AppNetwork {
  /** The key in the file's `networks:`. */
  key: string;
  /** The Hull network's name. */
  name: string;
  external: boolean;
  internal: boolean;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  labels: Record<string, string>;
}

export interface AppVolume {
  key: string;
  name: string;
  external: boolean;
  driverOpts: Record<string, string>;
  labels: Record<string, string>;
}

export interface AppService {
  name: string;
  replicas: number;
  mode: 'replicated' | 'global';
  /** x-hull.isolation: auto, and what it weighs (see orchestrator/services/isolation.ts). */
  autoIsolation: boolean;
  untrusted: boolean;
  spec: ServiceSpec;
}

/** What one Compose file asks for, normalized: the unit `hull apply`, `diff` and `delete` work on. */
export interface AppSpec {
  name: string;
  services: AppService[];
  networks: AppNetwork[];
  volumes: AppVolume[];
}
