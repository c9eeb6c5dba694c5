import { z } from 'zod';

/**
 * The part of the Compose Specification that `hull apply` reads, as
 * `docker stack deploy` reads it: strict (an unknown field is an error),
 * with the shapes Compose allows (a string or a list, a map or a list of
 * `K=V`). Extension fields (`x-…`) are taken out before these run; `x-hull`
 * has its own schema below.
 */
const str = z.string();
const num = z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/, 'expected a number')]).transform(Number);
const int = num.refine((n) => Number.isInteger(n), 'expected a whole number');
const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')]);
const duration = z.union([z.string(), z.number()]);
const size = z.union([z.string(), z.number()]);
const strOrList = z.union([str, z.array(str)]);
const listOrDict = z.union([z.array(str), z.record(str, z.union([str, z.number(), z.boolean(), z.null()]))]);

const healthcheck = z
  .object({
    test: strOrList.optional(),
    interval: duration.optional(),
    timeout: duration.optional(),
    retries: int.optional(),
    start_period: duration.optional(),
    start_interval: duration.optional(),
    disable: bool.optional(),
  })
  .strict();

const updateConfig = z
  .object({
    parallelism: int.optional(),
    delay: duration.optional(),
    failure_action: z.enum(['continue', 'rollback', 'pause']).optional(),
    monitor: duration.optional(),
    max_failure_ratio: num.optional(),
    order: z.enum(['start-first', 'stop-first']).optional(),
  })
  .strict();

const resourceSet = z
  .object({ cpus: num.optional(), memory: size.optional(), pids: int.optional() })
  .strict();

const deploy = z
  .object({
    mode: z.enum(['replicated', 'global']).optional(),
    replicas: int.optional(),
    labels: listOrDict.optional(),
    endpoint_mode: z.enum(['vip', 'dnsrr']).optional(),
    resources: z.object({ limits: resourceSet.optional(), reservations: resourceSet.optional() }).strict().optional(),
    restart_policy: z
      .object({
        condition: z.enum(['none', 'on-failure', 'any']).optional(),
        delay: duration.optional(),
        max_attempts: int.optional(),
        window: duration.optional(),
      })
      .strict()
      .optional(),
    update_config: updateConfig.optional(),
    rollback_config: updateConfig.optional(),
    placement: z
      .object({
        constraints: z.array(str).optional(),
        preferences: z.array(z.object({ spread: str }).strict()).optional(),
        max_replicas_per_node: int.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const portLong = z
  .object({
    name: str.optional(),
    target: int,
    published: z.union([z.number(), str]).optional(),
    protocol: z.enum(['tcp', 'udp']).optional(),
    mode: z.enum(['ingress', 'host']).optional(),
    host_ip: str.optional(),
    app_protocol: str.optional(),
  })
  .strict();

const volumeLong = z
  .object({
    type: z.enum(['volume', 'bind', 'tmpfs']),
    source: str.optional(),
    target: str,
    read_only: bool.optional(),
    volume: z.object({ nocopy: bool.optional() }).strict().optional(),
    bind: z.object({ propagation: str.optional(), create_host_path: bool.optional() }).strict().optional(),
    tmpfs: z.object({ size: size.optional(), mode: num.optional() }).strict().optional(),
  })
  .strict();

const serviceNetworks = z.union([
  z.array(str),
  z.record(str, z.union([z.null(), z.object({ aliases: z.array(str).optional(), ipv4_address: str.optional() }).strict()])),
]);

export const hullServiceSchema = z
  .object({
    /** container (default) or vm (replicas are VMs: set `vm`), or auto (Hull decides, see isolation.ts). */
    isolation: z.enum(['container', 'vm', 'auto']).optional(),
    untrusted: bool.optional(),
    autoscale: z
      .object({ min: int, max: int, target_cpu: num, scale_down_window: duration.optional() })
      .strict()
      .optional(),
    vm: z.object({ image: str, disk: size.optional(), user_script: str.optional() }).strict().optional(),
    /** Host-side probes, which Compose's healthcheck (a command) cannot say. */
    healthcheck: z
      .object({
        http: z.object({ port: int, path: str.optional() }).strict().optional(),
        tcp: z.object({ port: int }).strict().optional(),
        interval: duration.optional(),
        timeout: duration.optional(),
        retries: int.optional(),
        start_period: duration.optional(),
      })
      .strict()
      .optional(),
    /** How long a new replica may take to become ready during an update (default 60s, 180s for VMs). */
    ready_timeout: duration.optional(),
  })
  .strict();

export const serviceSchema = z
  .object({
    image: str.optional(),
    command: strOrList.nullable().optional(),
    entrypoint: strOrList.nullable().optional(),
    environment: listOrDict.optional(),
    env_file: strOrList.optional(),
    ports: z.array(z.union([str, z.number(), portLong])).optional(),
    networks: serviceNetworks.optional(),
    volumes: z.array(z.union([str, volumeLong])).optional(),
    tmpfs: strOrList.optional(),
    labels: listOrDict.optional(),
    healthcheck: healthcheck.optional(),
    isolation: z.enum(['default', 'process', 'container', 'hyperv', 'vm']).optional(),
    deploy: deploy.optional(),
    hostname: str.optional(),
    user: str.optional(),
    working_dir: str.optional(),
    tty: bool.optional(),
    stdin_open: bool.optional(),
    stop_grace_period: duration.optional(),
    stop_signal: str.optional(),
    cpus: num.optional(),
    mem_limit: size.optional(),
    pids_limit: int.optional(),
    init: bool.optional(),
    read_only: bool.optional(),
  })
  .strict();

export const networkSchema = z
  .object({
    name: str.optional(),
    driver: z.enum(['bridge', 'overlay']).optional(),
    external: z.union([bool, z.object({ name: str }).strict()]).optional(),
    internal: bool.optional(),
    attachable: bool.optional(),
    labels: listOrDict.optional(),
    ipam: z
      .object({
        driver: z.literal('default').optional(),
        config: z.array(z.object({ subnet: str.optional(), gateway: str.optional(), ip_range: str.optional() }).strict()).max(1, 'at most one IPAM config (Hull networks are IPv4 only)').optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .nullable();

export const volumeSchema = z
  .object({
    name: str.optional(),
    driver: z.literal('local').optional(),
    driver_opts: z.record(str, z.union([str, z.number()])).optional(),
    external: z.union([bool, z.object({ name: str }).strict()]).optional(),
    labels: listOrDict.optional(),
  })
  .strict()
  .nullable();

export const fileSchema = z
  .object({
    version: z.union([str, z.number()]).optional(),
    name: str.optional(),
    services: z.record(str, serviceSchema),
    networks: z.record(str, networkSchema).optional(),
    volumes: z.record(str, volumeSchema).optional(),
  })
  .strict();

export type ComposeFile = z.infer<typeof fileSchema>;
export type ComposeService = z.infer<typeof serviceSchema>;
export type HullServiceExt = z.infer<typeof hullServiceSchema>;

/**
 * Compose keys `docker stack deploy` ignores (it prints "Ignoring unsupported
 * options"): Hull does the same, so a file written for `docker compose` applies.
 */
export const IGNORED_SERVICE_KEYS = ['build', 'container_name', 'depends_on', 'restart', 'links', 'external_links', 'cgroup_parent', 'network_mode', 'profiles', 'pull_policy', 'platform', 'expose', 'logging'];
