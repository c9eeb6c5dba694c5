import { z } from 'zod';
import type { PortMapping } from '../../../core/network.js';
import type { CreateOptions } from '../../../engine/create-options.js';
import { DockerError } from '../errors.js';
import { nullable } from '../query.js';
import { parseLogOpts } from '../../../core/log-config.js';
import { parseSize } from '../../../core/units.js';

/**
 * `POST /containers/create`: docker's body (Config, HostConfig,
 * NetworkingConfig) turned into Hull's create options. Fields Hull does not
 * have are not silently dropped: a value that only tunes (DNS options, a
 * log driver, an OOM score) becomes a warning in the answer's `Warnings`
 * (the CLI prints them), one whose absence would change what the program
 * can do or reach (privileged, devices, volumes from another container) is
 * refused with 501 and the field named. Zero values, which docker's clients
 * send for every field they know, are "not set".
 */

const strList = nullable(z.array(z.string()));
const strMap = nullable(z.record(z.string(), z.string()));
const num = nullable(z.number());

const PortBinding = z.object({ HostIp: nullable(z.string()), HostPort: nullable(z.string()) }).loose();
const Endpoint = z
  .object({
    Aliases: strList,
    IPAMConfig: nullable(z.object({ IPv4Address: nullable(z.string()), IPv6Address: nullable(z.string()) }).loose()),
    Links: strList,
    MacAddress: nullable(z.string()),
  })
  .loose();

export const HealthConfigSchema = z
  .object({ Test: strList, Interval: num, Timeout: num, Retries: num, StartPeriod: num, StartInterval: num })
  .loose();

const HostConfigSchema = z
  .object({
    Binds: strList,
    NetworkMode: nullable(z.string()),
    PortBindings: nullable(z.record(z.string(), nullable(z.array(PortBinding)))),
    RestartPolicy: nullable(z.object({ Name: nullable(z.string()), MaximumRetryCount: num }).loose()),
    AutoRemove: nullable(z.boolean()),
    VolumesFrom: strList,
    Mounts: nullable(z.array(z.unknown())),
    CapAdd: strList,
    CapDrop: strList,
    Dns: strList,
    DnsOptions: strList,
    DnsSearch: strList,
    ExtraHosts: strList,
    Links: strList,
    Privileged: nullable(z.boolean()),
    PublishAllPorts: nullable(z.boolean()),
    ReadonlyRootfs: nullable(z.boolean()),
    SecurityOpt: strList,
    Tmpfs: strMap,
    UsernsMode: nullable(z.string()),
    Runtime: nullable(z.string()),
    Memory: num,
    NanoCpus: num,
    CpuQuota: num,
    CpuPeriod: num,
    PidsLimit: num,
    Init: nullable(z.boolean()),
    Devices: nullable(z.array(z.object({ PathOnHost: z.string(), PathInContainer: nullable(z.string()), CgroupPermissions: nullable(z.string()) }).loose())),
    StorageOpt: strMap,
    DeviceRequests: nullable(z.array(z.unknown())),
    PidMode: nullable(z.string()),
    IpcMode: nullable(z.string()),
    UTSMode: nullable(z.string()),
    LogConfig: nullable(z.object({ Type: nullable(z.string()), Config: strMap }).loose()),
    Sysctls: strMap,
    Isolation: nullable(z.string()),
    ConsoleSize: nullable(z.array(z.number().int().min(0).max(65535)).length(2)),
  })
  .loose();

export const CreateBodySchema = z
  .object({
    Hostname: nullable(z.string()),
    Domainname: nullable(z.string()),
    User: nullable(z.string()),
    ExposedPorts: nullable(z.record(z.string(), z.unknown())),
    Tty: nullable(z.boolean()),
    OpenStdin: nullable(z.boolean()),
    Env: strList,
    Cmd: nullable(z.union([z.array(z.string()), z.string()])),
    Entrypoint: nullable(z.union([z.array(z.string()), z.string()])),
    Healthcheck: nullable(HealthConfigSchema),
    Image: z.string({ error: 'Config.Image is required' }).min(1, 'Config.Image is required'),
    Volumes: nullable(z.record(z.string(), z.unknown())),
    WorkingDir: nullable(z.string()),
    NetworkDisabled: nullable(z.boolean()),
    MacAddress: nullable(z.string()),
    Labels: strMap,
    StopSignal: nullable(z.string()),
    StopTimeout: num,
    HostConfig: nullable(HostConfigSchema),
    NetworkingConfig: nullable(z.object({ EndpointsConfig: nullable(z.record(z.string(), nullable(Endpoint))) }).loose()),
  })
  .loose();

export type CreateBody = z.output<typeof CreateBodySchema>;
export type HostConfigBody = z.output<typeof HostConfigSchema>;

/** A network to join after create, with its own aliases (docker's EndpointsConfig beyond the first). */
export interface LaterNetwork {
  network: string;
  aliases: string[];
  ip?: string;
}

export interface Translated {
  options: CreateOptions;
  warnings: string[];
  /** Networks beyond the first, joined right after create (each with its own aliases). */
  later: LaterNetwork[];
}

/** docker's create body → Hull's create options, warnings, and networks to join after. */
export function translateCreate(b: CreateBody, name: string | undefined): Translated {
  const h: HostConfigBody = b.HostConfig ?? HostConfigSchema.parse({});
  const warnings: string[] = [];
  refuseUnsupported(h);
  warnIgnored(b, h, warnings);
  const net = networks(b, h);
  const restart = restartPolicy(h);
  const o: CreateOptions = {
    ...(name ? { name } : {}),
    image: b.Image,
    ...argv('cmd', b.Cmd),
    ...argv('entrypoint', b.Entrypoint),
    env: b.Env ?? [],
    workingDir: b.WorkingDir ?? '',
    user: b.User ?? '',
    tty: b.Tty ?? false,
    openStdin: b.OpenStdin ?? false,
    autoRemove: h.AutoRemove ?? false,
    ...(h.Runtime ? { runtime: h.Runtime } : {}),
    userns: false,
    ...security(h),
    ...resources(h),
    ...restart,
    labels: b.Labels ?? {},
    ...(b.Hostname ? { hostname: b.Hostname } : {}),
    networks: net.networks,
    networkAliases: net.aliases,
    ...(net.ip ? { ip: net.ip } : {}),
    ...logConfig(h),
    ports: withExposedPorts(portBindings(h.PortBindings), h.PublishAllPorts ? b.ExposedPorts : undefined),
    publishAll: h.PublishAllPorts ?? false,
  };
  return { options: o, warnings, later: net.later };
}

/**
 * Capabilities, devices, --privileged, seccomp and no-new-privileges as
 * Hull's create options take them (names are checked by the engine), and
 * the writable layer's size (--storage-opt size=).
 */
function security(h: HostConfigBody): Partial<CreateOptions> {
  const o: Partial<CreateOptions> = { noNewPrivileges: false, privileged: h.Privileged ?? false, capAdd: h.CapAdd ?? [], capDrop: h.CapDrop ?? [] };
  o.devices = (h.Devices ?? []).map((d) => ({ hostPath: d.PathOnHost, ...(d.PathInContainer ? { containerPath: d.PathInContainer } : {}), permissions: d.CgroupPermissions || 'rwm' }));
  for (const opt of h.SecurityOpt ?? []) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(opt);
    const [key, value] = [m?.[1] ?? opt, m?.[2] ?? ''];
    if (key === 'no-new-privileges') o.noNewPrivileges = value === '' || value === 'true';
    else if (key === 'seccomp') o.seccompProfile = value;
    else if (key !== 'label' && key !== 'apparmor') throw new DockerError(400, `invalid --security-opt: ${opt.slice(0, 64)}`);
  }
  const size = h.StorageOpt?.size;
  if (size !== undefined) o.storageBytes = parseSize(size);
  const other = Object.keys(h.StorageOpt ?? {}).filter((k) => k !== 'size');
  if (other.length) throw new DockerError(501, `--storage-opt ${other[0]} is not supported by Hull (size only)`);
  return o;
}

/** The log drivers that are files, as Hull's: their max-size and max-file are Hull's --log-opt. */
const FILE_LOGS = ['', 'json-file', 'local', 'k8s-file'];

function logConfig(h: HostConfigBody): Partial<CreateOptions> {
  const cfg = h.LogConfig;
  if (!cfg || !FILE_LOGS.includes(cfg.Type ?? '') || !Object.keys(cfg.Config ?? {}).length) return {};
  try {
    return { logConfig: parseLogOpts(Object.entries(cfg.Config ?? {}).map(([k, v]) => `${k}=${v}`)) };
  } catch (e) {
    throw new DockerError(400, (e as Error).message);
  }
}

/** Cmd/Entrypoint: null or absent is the image's; a string is one word (docker's JSON allows it). */
function argv(key: 'cmd' | 'entrypoint', v: string[] | string | undefined): Partial<CreateOptions> {
  if (v === undefined) return {};
  const words = typeof v === 'string' ? [v] : v;
  // `--entrypoint ""` arrives as [""]: no entrypoint at all.
  if (key === 'entrypoint' && words.length === 1 && words[0] === '') return { entrypoint: [] };
  return { [key]: words };
}

function resources(h: HostConfigBody): Partial<CreateOptions> {
  const out: Partial<CreateOptions> = {};
  if (h.Memory) out.memoryBytes = h.Memory;
  if (h.NanoCpus) out.cpus = h.NanoCpus / 1e9;
  else if (h.CpuQuota && h.CpuQuota > 0) out.cpus = h.CpuQuota / (h.CpuPeriod || 100_000);
  // 0 is what every client sends when unset (Hull's default then); -1 is unlimited.
  if (h.PidsLimit) out.pidsLimit = h.PidsLimit < 0 ? -1 : h.PidsLimit;
  return out;
}

const RESTART = ['no', 'always', 'on-failure', 'unless-stopped'] as const;

function restartPolicy(h: HostConfigBody): Partial<CreateOptions> {
  const name = h.RestartPolicy?.Name || 'no';
  if (!(RESTART as readonly string[]).includes(name)) throw new DockerError(400, `invalid restart policy '${name}'`);
  const retries = h.RestartPolicy?.MaximumRetryCount ?? 0;
  if (retries && name !== 'on-failure') throw new DockerError(400, `invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  if (retries < 0) throw new DockerError(400, 'invalid restart policy: maximum retry count must be a positive integer');
  if (name !== 'no' && h.AutoRemove) throw new DockerError(400, "conflicting options: cannot specify both --restart and --rm");
  return { restartPolicy: name as (typeof RESTART)[number], ...(retries ? { restartMaxRetries: retries } : {}) };
}

/**
 * NetworkMode names the first network (`default` and `bridge` are Hull's
 * default network); EndpointsConfig may add more (API 1.44) and gives each
 * its aliases and address. The first is joined at create with its aliases,
 * the others right after, each with its own.
 */
function networks(b: CreateBody, h: HostConfigBody): { networks?: string[]; aliases: string[]; ip?: string; later: LaterNetwork[] } {
  const mode = b.NetworkDisabled ? 'none' : h.NetworkMode || 'default';
  if (mode.startsWith('container:')) throw new DockerError(501, "network mode 'container:<name>' (sharing another container's network namespace) is not supported by Hull");
  const eps = Object.entries(b.NetworkingConfig?.EndpointsConfig ?? {});
  const ep = (n: string) => eps.find(([k]) => k === n)?.[1] ?? undefined;
  if (mode === 'none' || mode === 'host') return { networks: [mode], aliases: [], later: [] };
  const first = mode === 'default' || mode === 'bridge' ? undefined : mode;
  const firstEp = ep(mode) ?? (first === undefined ? (ep('default') ?? ep('bridge')) : undefined);
  const later = eps
    .filter(([k]) => k !== mode && !(first === undefined && (k === 'default' || k === 'bridge')))
    .map(([network, e]) => ({ network, aliases: e?.Aliases ?? [], ...(e?.IPAMConfig?.IPv4Address ? { ip: e.IPAMConfig.IPv4Address } : {}) }));
  const ip = firstEp?.IPAMConfig?.IPv4Address || undefined;
  return { networks: first ? [first] : undefined, aliases: firstEp?.Aliases ?? [], ip, later };
}

/** `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}` → Hull's mappings (an empty host port: any free one). */
export function portBindings(pb: HostConfigBody['PortBindings']): PortMapping[] {
  const out: PortMapping[] = [];
  for (const [key, binds] of Object.entries(pb ?? {})) {
    const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(key);
    if (!m) throw new DockerError(400, `invalid port specification: "${key.slice(0, 64)}"`);
    if (m[2] === 'sctp') throw new DockerError(501, 'sctp ports are not supported by Hull');
    const containerPort = Number(m[1]);
    for (const bnd of binds?.length ? binds : [{}]) {
      const hp = (bnd as { HostPort?: string }).HostPort ?? '';
      const range = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(hp);
      if (hp !== '' && !range) throw new DockerError(400, `invalid host port "${hp.slice(0, 64)}" for ${key}`);
      const hostIp = (bnd as { HostIp?: string }).HostIp ?? '';
      // A host range for one container port: docker takes the first free one; Hull the first.
      out.push({ hostIp: hostIp === '0.0.0.0' ? '' : hostIp, hostPort: range ? Number(range[1]) : 0, containerPort, protocol: (m[2] ?? 'tcp') as 'tcp' | 'udp' });
    }
  }
  return out;
}

/** -P with --expose: every exposed port not bound already, on a port picked for it (the image's are added by the engine). */
function withExposedPorts(ports: PortMapping[], exposed: Record<string, unknown> | undefined): PortMapping[] {
  const extra: PortMapping[] = [];
  for (const key of Object.keys(exposed ?? {})) {
    const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(key);
    if (!m) continue;
    const p = { containerPort: Number(m[1]), protocol: (m[2] ?? 'tcp') as 'tcp' | 'udp' };
    if (!ports.some((x) => x.containerPort === p.containerPort && x.protocol === p.protocol)) extra.push({ hostIp: '', hostPort: 0, ...p });
  }
  return [...ports, ...extra];
}

/** What Hull cannot give and must not pretend to: 501 names it. */
function refuseUnsupported(h: HostConfigBody): void {
  const no = (what: string) => {
    throw new DockerError(501, `${what} is not supported by Hull`);
  };
  if (h.DeviceRequests?.length) no('--gpus (device requests)');
  if (h.VolumesFrom?.length) no('--volumes-from');
  if (h.Binds?.length) no('-v/--volume');
  if (h.Mounts?.length) no('--mount');
  if (h.ReadonlyRootfs) no('--read-only');
  if (h.PidMode) no(`--pid ${h.PidMode}`);
  if (h.IpcMode && !['', 'private', 'shareable', 'none'].includes(h.IpcMode)) no(`--ipc ${h.IpcMode}`);
  if (h.UTSMode) no(`--uts ${h.UTSMode}`);
  if (h.Init) no('--init');
  if (h.UsernsMode && h.UsernsMode !== 'host') no(`--userns ${h.UsernsMode}`);
}

/** Settings that only tune: Hull runs the container without them and says so. */
function warnIgnored(b: CreateBody, h: HostConfigBody, w: string[]): void {
  const ign = (what: string) => w.push(`Hull ignores ${what}`);
  if (b.Domainname) ign('--domainname');
  if (b.MacAddress) ign('--mac-address');
  if (b.StopSignal) ign('--stop-signal (the image\'s STOPSIGNAL, else SIGTERM, is sent)');
  if (b.StopTimeout !== undefined) ign('--stop-timeout (stop waits 10 seconds unless told otherwise)');
  if (b.Volumes && Object.keys(b.Volumes).length) ign('anonymous volumes (Config.Volumes)');
  if (b.Healthcheck?.Test?.length) ign('--health-* (health checks are not run yet)');
  if (h.Dns?.length || h.DnsOptions?.length || h.DnsSearch?.length) ign('--dns, --dns-option and --dns-search (the network\'s name server answers)');
  if (h.ExtraHosts?.length) ign('--add-host');
  if (h.Links?.length) ign('--link (containers on one network find each other by name)');
  if (h.Tmpfs && Object.keys(h.Tmpfs).length) ign('--tmpfs');
  if (h.Sysctls && Object.keys(h.Sysctls).length) ign('--sysctl');
  if ((h.SecurityOpt ?? []).some((s) => /^(label|apparmor)\b/.test(s))) ign('--security-opt label and apparmor (no SELinux or AppArmor profiles)');
  const log = h.LogConfig?.Type;
  if (log && !FILE_LOGS.includes(log)) ign(`--log-driver ${log} and its --log-opt (Hull keeps every log in rotated files of its own)`);
}

export const UpdateBodySchema = z
  .object({
    Memory: num,
    MemorySwap: num,
    NanoCpus: num,
    CpuQuota: num,
    CpuPeriod: num,
    PidsLimit: num,
    RestartPolicy: nullable(z.object({ Name: nullable(z.string()), MaximumRetryCount: num }).loose()),
    CpuShares: num,
    BlkioWeight: num,
    CpusetCpus: nullable(z.string()),
    CpusetMems: nullable(z.string()),
    MemoryReservation: num,
  })
  .loose();

/** `docker update`'s body: zero is "unchanged", as the CLI sends every field it knows. */
export function translateUpdate(b: z.output<typeof UpdateBodySchema>) {
  const h = { ...HostConfigSchema.parse({}), Memory: b.Memory, NanoCpus: b.NanoCpus, CpuQuota: b.CpuQuota, CpuPeriod: b.CpuPeriod, PidsLimit: b.PidsLimit };
  const { memoryBytes, cpus, pidsLimit } = resources(h);
  const warnings: string[] = [];
  if (b.MemorySwap && b.MemorySwap !== -1 && b.MemorySwap !== b.Memory) warnings.push('Hull ignores --memory-swap: swap is capped at the memory limit');
  if (b.CpuShares || b.BlkioWeight || b.CpusetCpus || b.CpusetMems || b.MemoryReservation) warnings.push('Hull ignores --cpu-shares, --blkio-weight, --cpuset-* and --memory-reservation');
  const restart = b.RestartPolicy?.Name ? restartPolicy({ ...h, RestartPolicy: b.RestartPolicy }) : undefined;
  return {
    resources: { ...(memoryBytes !== undefined ? { memoryBytes } : {}), ...(cpus !== undefined ? { cpus } : {}), ...(pidsLimit !== undefined ? { pidsLimit } : {}) },
    restartPolicy: restart ? { name: restart.restartPolicy!, ...(restart.restartMaxRetries ? { maxRetries: restart.restartMaxRetries } : {}) } : undefined,
    warnings,
  };
}
