import { z } from 'zod';
import { invalid } from '../core/errors.js';
import { isDigest } from './content/digest.js';

/**
 * The OCI (and Docker v2) documents Hull reads, parsed strictly where it
 * matters: digests, sizes and the fields we act on must be well formed.
 * Unknown fields are dropped rather than refused, because the specs let
 * writers add them and real images do.
 */
export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

export const INDEX_TYPES: readonly string[] = [MediaType.ociIndex, MediaType.dockerList];
export const MANIFEST_TYPES: readonly string[] = [MediaType.ociManifest, MediaType.dockerManifest];
export const REF_NAME = 'org.opencontainers.image.ref.name';
/** containerd and docker ≥ 25 write the full name here; ref.name then holds only the tag. */
export const CONTAINERD_NAME = 'io.containerd.image.name';

const digest = z.string().refine(isDigest, 'expected sha256:<64 hex digits>');
const size = z.number().int().nonnegative();

const platformSchema = z.object({ architecture: z.string(), os: z.string(), variant: z.string().optional() });

export const descriptorSchema = z.object({
  mediaType: z.string(),
  digest,
  size,
  annotations: z.record(z.string(), z.string()).optional(),
  platform: platformSchema.optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;
export type Platform = z.infer<typeof platformSchema>;

export const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
});
export type OciIndex = z.infer<typeof indexSchema>;

export const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
});
export type OciManifest = z.infer<typeof manifestSchema>;

const stringList = z.array(z.string()).nullish();
export const imageConfigSchema = z.object({
  architecture: z.string(),
  os: z.string(),
  created: z.string().optional(),
  config: z
    .object({
      Cmd: stringList,
      Entrypoint: stringList,
      Env: stringList,
      WorkingDir: z.string().optional(),
      User: z.string().optional(),
      ExposedPorts: z.record(z.string(), z.object({})).nullish(),
      Labels: z.record(z.string(), z.string()).nullish(),
      StopSignal: z.string().optional(),
      Volumes: z.record(z.string(), z.object({})).nullish(),
      Healthcheck: z
        .object({ Test: stringList, Interval: z.number().optional(), Timeout: z.number().optional(), Retries: z.number().optional(), StartPeriod: z.number().optional(), StartInterval: z.number().optional() })
        .nullish(),
    })
    .nullish(),
  rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(digest) }),
});
export type OciImageConfig = z.infer<typeof imageConfigSchema>;

/** docker save's manifest.json. */
export const dockerManifestSchema = z.array(
  z.object({
    Config: z.string(),
    RepoTags: z.array(z.string()).nullish(),
    Layers: z.array(z.string()),
  }),
);
export type DockerSaveManifest = z.infer<typeof dockerManifestSchema>;

export const layoutSchema = z.object({ imageLayoutVersion: z.string() });

/** This host's architecture in OCI's words (Node's x64 is OCI's amd64). */
export function hostArchitecture(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[process.arch] ?? process.arch;
}

/** Parse JSON bytes against a schema; HullError 'invalid' names the document and the first problem. */
export function parseDoc<T>(schema: z.ZodType<T>, data: Buffer | string, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString());
  } catch (e) {
    throw invalid(`${what}: not valid JSON (${(e as Error).message})`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw invalid(`${what}: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return r.data;
}
