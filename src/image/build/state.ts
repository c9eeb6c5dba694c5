import type { Image, ImageConfig } from '../../core/image.js';
import { sha256 } from '../content/digest.js';
import { hostArchitecture } from '../oci-types.js';

/** The container config part of an image config, with the fields a build sets. */
export interface RunConfig extends ImageConfig {
  Shell?: string[];
  Volumes?: Record<string, object>;
}

export interface HistoryEntry {
  created: string;
  created_by: string;
  empty_layer?: boolean;
  comment?: string;
}

/** An OCI image config as a build writes it. */
export interface FullConfig {
  architecture: string;
  os: string;
  created?: string;
  author?: string;
  config: RunConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: HistoryEntry[];
  [k: string]: unknown;
}

export interface LayerDesc {
  digest: string;
  size: number;
  mediaType: string;
}

/**
 * BuildState: the image so far, after some steps. Its id is the digest of
 * its config, exactly the image id it would have if recorded now, so the
 * cache chains steps by it.
 */
export interface BuildState {
  config: FullConfig;
  layers: LayerDesc[];
}

export const configBytes = (s: BuildState): Buffer => Buffer.from(JSON.stringify(s.config));
export const stateId = (s: BuildState): string => sha256(configBytes(s));

export function scratchState(): BuildState {
  return { config: { architecture: hostArchitecture(), os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] }, layers: [] };
}

/** A base image's state, from its config blob as stored (history and all). */
export function baseState(image: Image, raw: FullConfig): BuildState {
  const config: FullConfig = { ...raw, config: { ...(raw.config ?? {}) }, history: raw.history ?? [], rootfs: { type: 'layers', diff_ids: [...image.diffIds] } };
  for (const [k, v] of Object.entries(config.config)) if (v === null) delete (config.config as Record<string, unknown>)[k];
  return { config, layers: image.layers.map((l) => ({ ...l })) };
}

/** The state as an Image the engine can create a container from (not recorded: see ImageService.holdTransient). */
export function transientImage(s: BuildState): Image {
  const c = s.config.config;
  const config: ImageConfig = {};
  for (const k of ['Cmd', 'Entrypoint', 'Env', 'WorkingDir', 'User', 'ExposedPorts', 'Labels', 'StopSignal'] as const) if (c[k] !== undefined) (config as Record<string, unknown>)[k] = c[k];
  return {
    id: stateId(s),
    manifestDigest: '',
    tags: [],
    diffIds: s.config.rootfs.diff_ids,
    layers: s.layers,
    config,
    architecture: s.config.architecture,
    os: s.config.os,
    size: s.layers.reduce((n, l) => n + l.size, 0),
    createdAt: s.config.created ?? new Date().toISOString(),
  };
}

/** The next state: `change` applied to a copy of the config, a history entry, and the layer if the step made one. */
export function nextState(s: BuildState, createdBy: string, change: (c: RunConfig) => void, layer?: LayerDesc & { diffId: string }): BuildState {
  const created = new Date().toISOString();
  const run: RunConfig = structuredClone(s.config.config);
  change(run);
  const history: HistoryEntry = { created, created_by: createdBy, ...(layer ? {} : { empty_layer: true }) };
  const diffIds = layer ? [...s.config.rootfs.diff_ids, layer.diffId] : s.config.rootfs.diff_ids;
  const layers = layer ? [...s.layers, { digest: layer.digest, size: layer.size, mediaType: layer.mediaType }] : s.layers;
  return { config: { ...s.config, created, config: run, rootfs: { type: 'layers', diff_ids: diffIds }, history: [...s.config.history, history] }, layers };
}
