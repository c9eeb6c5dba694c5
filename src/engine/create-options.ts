import { z } from 'zod';
import { HOSTNAME_RULE, isValidHostname } from '../core/ids.js';
import { MAX_LOG_FILES, MIN_LOG_SIZE } from '../core/log-config.js';

/** A health check (core/health.ts), as the API takes it: times in milliseconds. */
export const HealthCheckSchema = z
  .object({
    probe: z.union([
      z.object({ exec: z.array(z.string()).min(1) }).strict(),
      z.object({ http: z.object({ port: z.number().int().min(1).max(65535), path: z.string().startsWith('/') }).strict() }).strict(),
      z.object({ tcp: z.object({ port: z.number().int().min(1).max(65535) }).strict() }).strict(),
    ]),
    intervalMs: z.number().int().min(100).default(30_000),
    timeoutMs: z.number().int().min(100).default(30_000),
    retries: z.number().int().min(1).max(1000).default(3),
    startPeriodMs: z.number().int().min(0).default(0),
    startIntervalMs: z.number().int().min(100).default(5000),
  })
  .strict();

/** One published port; hostPort 0 picks a free one, hostIp '' means every host address. */
export const PortSchema = z
  .object({
    hostIp: z.string().default(''),
    hostPort: z.number().int().min(0).max(65535).default(0),
    containerPort: z.number().int().min(1).max(65535),
    protocol: z.enum(['tcp', 'udp']).default('tcp'),
  })
  .strict();

/** One host device for the container (--device /dev/x[:/dev/y[:rwm]]). */
export const DeviceSchema = z
  .object({
    hostPath: z.string().startsWith('/'),
    containerPath: z.string().startsWith('/').optional(),
    permissions: z.string().regex(/^[rwm]{1,3}$/, 'some of r, w, m').default('rwm'),
  })
  .strict();

/**
 * One mount, docker-like (`-v`, `--mount`, `--tmpfs`, Compose's `volumes:`):
 * a named volume (made on first use; an empty source makes an anonymous one),
 * a host path, or a tmpfs. See core/mount-spec.ts for the flags' parsing.
 */
export const MountSchema = z
  .object({
    type: z.enum(['volume', 'bind', 'tmpfs']),
    source: z.string().default(''),
    target: z.string().min(1),
    readOnly: z.boolean().default(false),
    noCopy: z.boolean().optional(),
    createHostPath: z.boolean().optional(),
    propagation: z.enum(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']).optional(),
    tmpfsSize: z.number().int().positive().optional(),
    tmpfsMode: z.number().int().min(0).max(0o7777).optional(),
    volumeOptions: z.record(z.string(), z.string()).optional(),
  })
  .strict();

/**
 * What a client sends to create a container: strict, unknown fields refused.
 * Sizes arrive already parsed to bytes (the CLI parses `-m 64m`; the API
 * accepts numbers only), so every client gets the same validation here.
 */
export const CreateOptionsSchema = z
  .object({
    name: z.string().optional(),
    image: z.string().min(1),
    cmd: z.array(z.string()).optional(),
    entrypoint: z.array(z.string()).optional(),
    env: z.array(z.string()).default([]),
    workingDir: z.string().default(''),
    user: z.string().default(''),
    tty: z.boolean().default(false),
    openStdin: z.boolean().default(false),
    autoRemove: z.boolean().default(false),
    runtime: z.string().optional(),
    userns: z.boolean().default(false),
    noNewPrivileges: z.boolean().default(false),
    /** Run a tiny init (tini) as PID 1 that forwards signals to the program and reaps orphans (docker's --init). */
    init: z.boolean().default(false),
    memoryBytes: z.number().int().positive().optional(),
    cpus: z.number().positive().optional(),
    pidsLimit: z.number().int().min(-1).optional(),
    restartPolicy: z.enum(['no', 'always', 'on-failure', 'unless-stopped']).default('no'),
    restartMaxRetries: z.number().int().min(0).optional(),
    labels: z.record(z.string(), z.string()).default({}),
    hostname: z.string().refine(isValidHostname, HOSTNAME_RULE).optional(),
    /** Networks to join by name or id (default: the default network); `none` or `host` alone pick those modes. */
    networks: z.array(z.string()).optional(),
    networkAliases: z.array(z.string()).default([]),
    /** A fixed address on the first network. */
    ip: z.string().optional(),
    ports: z.array(PortSchema).default([]),
    /** Publish every port the image exposes on a host port picked for it (-P). */
    publishAll: z.boolean().default(false),
    /** `vm`: the program runs in a small VM of its own (Hull's kernel, the image's files on a virtio disk). */
    isolation: z.enum(['container', 'vm']).default('container'),
    // Security knobs beyond the defaults (docs/security.md) and the writable layer's size.
    /** Capabilities to add or drop: names with or without CAP_, any case, or ALL. */
    capAdd: z.array(z.string()).default([]),
    capDrop: z.array(z.string()).default([]),
    devices: z.array(DeviceSchema).default([]),
    /** `unconfined`, or a seccomp profile's JSON text in docker's format (the CLI reads the file). */
    seccompProfile: z.string().optional(),
    privileged: z.boolean().default(false),
    /** The most the container's writable layer may hold, bytes (--storage-opt size=); the daemon's default when absent. */
    storageBytes: z.number().int().positive().optional(),
    /** --log-opt max-size (bytes) and max-file; what is absent comes from the daemon's default. */
    logConfig: z
      .object({ maxSize: z.number().int().min(MIN_LOG_SIZE).optional(), maxFile: z.number().int().min(1).max(MAX_LOG_FILES).optional() })
      .strict()
      .optional(),
    // ---- storage (storage/volumes) ----
    /** Volumes, binds and tmpfs mounts. */
    mounts: z.array(MountSchema).default([]),
    /** `CONTAINER[:ro|:rw]`: that container's volumes and binds, at the same targets. */
    volumesFrom: z.array(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*(:(ro|rw))?$/, 'use CONTAINER[:ro|:rw]')).default([]),
    /** Docker's health check (--health-*); `none` turns off the image's HEALTHCHECK. */
    healthcheck: z.union([HealthCheckSchema, z.literal('none')]).optional(),
  })
  .strict();

export type CreateOptions = z.input<typeof CreateOptionsSchema>;
export type ParsedCreateOptions = z.output<typeof CreateOptionsSchema>;
