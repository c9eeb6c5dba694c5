import type { Image } from '../../../core/image.js';
import type { ImageService } from '../../../image/image-service.js';
import { imageJson, imageSummaryJson } from '../../docker-view/image.js';

/**
 * Images in docker's shapes, on top of the shared view: the list row with
 * its labels and container count, the inspect document with the image's
 * whole config as stored (Healthcheck, Volumes, Shell… which Hull's record
 * does not keep), and `history` from the config's history entries.
 */

interface HistoryEntry {
  created?: string;
  created_by?: string;
  empty_layer?: boolean;
  comment?: string;
}

interface RawConfig {
  config?: Record<string, unknown> | null;
  container_config?: Record<string, unknown> | null;
  container?: string;
  history?: HistoryEntry[];
  author?: string;
  variant?: string;
}

/** The image's config blob as stored (bounded: the content store refuses large ones). */
export async function rawConfig(images: ImageService, image: Image): Promise<RawConfig> {
  try {
    return JSON.parse((await images.content.readBlob(image.id)).toString()) as RawConfig;
  } catch {
    return {};
  }
}

/**
 * docker drops a repository's digest with the last tag of that repository
 * on the image; Hull keeps it (for pushes' cross-repo mounts): the docker
 * view shows only the digests of repositories the image still has a name in.
 */
function repoDigests(i: Image): string[] {
  const repo = (n: string) => n.slice(0, n.includes('@') ? n.indexOf('@') : n.lastIndexOf(':'));
  const named = new Set(i.tags.map(repo));
  return (i.repoDigests ?? []).filter((d) => named.has(repo(d)));
}

export function imageRow(i: Image, containers: number) {
  const row = imageSummaryJson({ id: i.id, tags: i.tags, repoDigests: repoDigests(i), size: i.size, createdAt: i.createdAt, containers });
  return { ...row, Labels: i.config.Labels ?? {}, VirtualSize: i.size };
}

/**
 * `GET /images/{name}/json`. docker gave the building container's config
 * (`ContainerConfig`, `Container`) until API 1.45; Hull keeps giving it at
 * every version, as docker-compose 1.29 reads it to recreate a container
 * (and fails with KeyError 'ContainerConfig' on dockerd 25 and later): the
 * config blob's, else the image's own config.
 */
export function imageInspect(i: Image, raw: RawConfig) {
  const base = imageJson(i);
  const config: Record<string, unknown> = { ...base.Config, ...(raw.config ?? {}) };
  return {
    ...base,
    Container: raw.container ?? '',
    ContainerConfig: raw.container_config ?? { ...config, Volumes: config.Volumes ?? null },
    RepoDigests: repoDigests(i),
    Author: raw.author ?? '',
    Config: config,
    ...(raw.variant ? { Variant: raw.variant } : {}),
    GraphDriver: { Name: 'overlay2', Data: null },
    VirtualSize: i.size,
  };
}

/** `docker history`: newest first; a step that made a layer carries that layer's size and the image id on the top one. */
export function imageHistory(i: Image, raw: RawConfig) {
  const steps: HistoryEntry[] = raw.history?.length ? raw.history : i.layers.map(() => ({ created: i.createdAt }));
  let layer = 0;
  const rows = steps.map((h) => {
    const size = h.empty_layer ? 0 : (i.layers[layer++]?.size ?? 0);
    return { Id: '<missing>', Created: Math.floor(Date.parse(h.created ?? i.createdAt) / 1000) || 0, CreatedBy: h.created_by ?? '', Tags: null as string[] | null, Size: size, Comment: h.comment ?? '' };
  });
  rows.reverse();
  if (rows.length) Object.assign(rows[0], { Id: i.id, Tags: i.tags.length ? i.tags : null });
  return rows;
}
