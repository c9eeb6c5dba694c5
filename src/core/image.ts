/** Image: an OCI image known to the local store. */
export interface ImageConfig {
  Cmd?: string[];
  Entrypoint?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, object>;
  Labels?: Record<string, string>;
  StopSignal?: string;
  /** VOLUME paths: an anonymous volume each for a new container. */
  Volumes?: Record<string, object>;
  /** The image's HEALTHCHECK, as docker's image config keeps it (times in nanoseconds). */
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number; StartInterval?: number };
}

export interface Image {
  /** sha256:<hex> of the image's config blob, as docker's image id. */
  id: string;
  /** The manifest this image was stored from. */
  manifestDigest: string;
  /** repo:tag names pointing at it, e.g. `busybox:latest`. */
  tags: string[];
  /** `repo@sha256:…` names it has in registries it was pulled from or pushed to (docker's RepoDigests). */
  repoDigests?: string[];
  /** Uncompressed layer digests, bottom first (rootfs.diff_ids). */
  diffIds: string[];
  /** Compressed layer blobs, bottom first, as the manifest lists them. */
  layers: Array<{ digest: string; size: number; mediaType: string }>;
  config: ImageConfig;
  architecture: string;
  os: string;
  size: number;
  createdAt: string;
}
