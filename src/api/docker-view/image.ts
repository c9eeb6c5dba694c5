import type { Image } from '../../core/image.js';

/**
 * An image in docker's shapes: `GET /images/{name}/json` (ImageInspect) and
 * the `GET /images/json` row. Pure, as container.ts.
 */
export function imageJson(i: Image) {
  const c = i.config;
  return {
    Id: i.id,
    RepoTags: i.tags,
    RepoDigests: i.repoDigests ?? [],
    Parent: '',
    Comment: '',
    Created: i.createdAt,
    DockerVersion: '',
    Author: '',
    Config: {
      User: c.User ?? '',
      ExposedPorts: c.ExposedPorts ?? null,
      Env: c.Env ?? null,
      Cmd: c.Cmd ?? null,
      WorkingDir: c.WorkingDir ?? '',
      Entrypoint: c.Entrypoint ?? null,
      Labels: c.Labels ?? null,
      StopSignal: c.StopSignal ?? '',
    },
    Architecture: i.architecture,
    Os: i.os,
    Size: i.size,
    RootFS: { Type: 'layers', Layers: i.diffIds },
    Metadata: { LastTagTime: ZERO },
  };
}

const ZERO = '0001-01-01T00:00:00Z';

/** The fields of a Hull image summary (routes/images.ts imageSummary()). */
export interface ImageSummaryLike {
  id: string;
  tags: string[];
  repoDigests?: string[];
  size: number;
  createdAt: string;
  containers?: number;
}

/** docker's `GET /images/json` row. */
export function imageSummaryJson(s: ImageSummaryLike) {
  return {
    Id: s.id,
    ParentId: '',
    RepoTags: s.tags,
    RepoDigests: s.repoDigests ?? [],
    Created: Math.floor(Date.parse(s.createdAt) / 1000),
    Size: s.size,
    SharedSize: -1,
    Labels: null,
    Containers: s.containers ?? -1,
  };
}
