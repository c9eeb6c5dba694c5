import type { PortMapping } from '../../../core/network.js';
import type { CreateOptions } from '../../../engine/create-options.js';
import { DockerError } from '../errors.js';
import { HostConfigSchema, type CreateBody, type HostConfigBody } from './create-body.js';
import { logConfig, refuseUnsupported, resources, restartPolicy, security, warnIgnored } from './host-config.js';
import { mountOptions } from './mounts.js';
import { healthFromDocker, type DockerHealthConfig } from './health.js';
import { compareVersions } from '../api-version.js';

export { CreateBodySchema } from './create-body.js';

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
export function translateCreate(b: CreateBody, name: string | undefined, imageHealth?: DockerHealthConfig, apiVersion = '1.50'): Translated {
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
    init: h.Init ?? false,
    ...security(h),
    ...resources(h),
    ...restart,
    labels: b.Labels ?? {},
    ...(b.Hostname ? { hostname: b.Hostname } : {}),
    networks: net.networks,
    networkAliases: net.aliases,
    ...(net.ip ? { ip: net.ip } : {}),
    ...logConfig(h),
    ...mountOptions(b, h, warnings),
    ...healthOption(b, imageHealth, warnings, compareVersions(apiVersion, '1.44') >= 0),
    ports: withExposedPorts(portBindings(h.PortBindings), h.PublishAllPorts ? b.ExposedPorts : undefined),
    publishAll: h.PublishAllPorts ?? false,
  };
  return { options: o, warnings, later: net.later };
}


/** docker's Healthcheck (`--health-*`, compose's healthcheck); nothing asked leaves the image's HEALTHCHECK to the engine. */
function healthOption(b: CreateBody, image: DockerHealthConfig | undefined, warnings: string[], startIntervalKnown: boolean): Partial<CreateOptions> {
  const h = healthFromDocker(b.Healthcheck ?? undefined, image, warnings, { startIntervalKnown });
  return h === undefined ? {} : { healthcheck: h };
}

/** Cmd/Entrypoint: null or absent is the image's; a string is one word (docker's JSON allows it). */
function argv(key: 'cmd' | 'entrypoint', v: string[] | string | undefined): Partial<CreateOptions> {
  if (v === undefined) return {};
  const words = typeof v === 'string' ? [v] : v;
  // `--entrypoint ""` arrives as [""]: no entrypoint at all.
  if (key === 'entrypoint' && words.length === 1 && words[0] === '') return { entrypoint: [] };
  return { [key]: words };
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

