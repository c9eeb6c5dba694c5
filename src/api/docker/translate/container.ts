import type { Image } from '../../../core/image.js';
import type { Instance } from '../../../core/instance.js';
import { containerJson, containerSummaryJson, type SummaryLike } from '../../docker-view/container.js';
import { dockerHealthConfig, dockerHealthState } from './health.js';
import { bindsOf, mountPoints, type VolumeInfo } from './mounts.js';

/**
 * A Hull instance in the shapes docker's clients read, on top of the shared
 * docker view (api/docker-view/): the fields of ContainerJSON and of the
 * list row that the view leaves out and that clients act on. Compose, for
 * one, reads `HostConfig.LogConfig.Type` to decide whether `logs` works,
 * and testcontainers reads the published ports from `NetworkSettings.Ports`.
 */

/** Exposed ports: the image's, and every published one, as docker lists them (`80/tcp`). */
function exposedPorts(inst: Instance, image?: Image): Record<string, object> {
  const out: Record<string, object> = {};
  for (const k of Object.keys(image?.config.ExposedPorts ?? {})) out[k.includes('/') ? k : `${k}/tcp`] = {};
  for (const p of inst.config.ports ?? []) out[`${p.containerPort}/${p.protocol}`] = {};
  return out;
}

/** docker's HostConfig.NetworkMode: the network the container was created on, or none/host. */
export function networkMode(inst: Instance): string {
  const c = inst.config;
  if (c.networkMode === 'host' || c.networkMode === 'none' || !c.networkMode) return c.networkMode ?? 'none';
  return c.networks?.[0]?.network ?? 'none';
}

export function containerInspect(inst: Instance, o: { image?: Image; logPath?: string; volume?: (id: string) => VolumeInfo | undefined } = {}) {
  const volume = o.volume ?? (() => undefined);
  const base = containerJson(inst);
  const sec = inst.config.security;
  const exposed = exposedPorts(inst, o.image);
  const ports: Record<string, unknown> = Object.fromEntries(Object.keys(exposed).map((k) => [k, null]));
  Object.assign(ports, base.NetworkSettings.Ports);
  return {
    ...base,
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: o.logPath ?? '',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    GraphDriver: { Name: 'overlay2', Data: null },
    Mounts: mountPoints(inst, volume),
    HostConfig: {
      ...base.HostConfig,
      NetworkMode: networkMode(inst),
      ...bindsOf(inst, volume),
      VolumesFrom: null,
      // Hull's logs are read through the API as json-file ones are: say so, as clients decide on it.
      LogConfig: { Type: 'json-file', Config: inst.config.logConfig ? { 'max-size': String(inst.config.logConfig.maxSize), 'max-file': String(inst.config.logConfig.maxFile) } : {} },
      PublishAllPorts: false,
      CapAdd: sec?.capAdd ?? null,
      CapDrop: sec?.capDrop ?? null,
      Privileged: sec?.privileged ?? false,
      Devices: (sec?.devices ?? []).map((d) => ({ PathOnHost: d.hostPath, PathInContainer: d.containerPath, CgroupPermissions: d.permissions })),
      SecurityOpt: securityOpt(inst),
      Dns: [],
      DnsOptions: [],
      DnsSearch: [],
      ExtraHosts: null,
      Links: null,
      Init: inst.config.init ? true : null,
      ConsoleSize: [0, 0],
      Mounts: [],
    },
    Config: {
      ...base.Config,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ExposedPorts: Object.keys(exposed).length ? exposed : null,
      StdinOnce: false,
      Volumes: null,
      OnBuild: null,
      StopSignal: o.image?.config.StopSignal ?? '',
      ...(inst.config.healthcheck ? { Healthcheck: dockerHealthConfig(inst.config.healthcheck) } : {}),
    },
    State: stateOf(inst, base.State),
    NetworkSettings: { ...base.NetworkSettings, Ports: ports },
  };
}

/**
 * docker's State, with Health only when the container has a check: dockerd
 * omits the field otherwise (testcontainers reads `Health.Status` whenever
 * the key is there, so a null breaks it).
 */
function stateOf(inst: Instance, base: ReturnType<typeof containerJson>['State']) {
  const { Health: _none, ...rest } = base;
  const health = healthOf(inst);
  return health ? { ...rest, Health: health } : rest;
}

/** docker's State.Health: a running container with a check and no result yet is `starting`; none without a check. */
export function healthOf(inst: Instance) {
  if (!inst.config.healthcheck || inst.state.status !== 'running') return inst.state.health && inst.config.healthcheck ? dockerHealthState(inst.state.health) : null;
  return dockerHealthState(inst.state.health) ?? { Status: 'starting', FailingStreak: 0, Log: [] };
}

/** docker's HostConfig.SecurityOpt: what was asked beyond the defaults. */
function securityOpt(inst: Instance): string[] | null {
  const out: string[] = [];
  if (inst.config.noNewPrivileges) out.push('no-new-privileges');
  const seccomp = inst.config.security?.seccomp;
  if (seccomp === 'unconfined') out.push('seccomp=unconfined');
  else if (seccomp) out.push(`seccomp=${JSON.stringify(seccomp)}`);
  return out.length ? out : null;
}

/** The `GET /containers/json` row. */
export function containerSummary(inst: Instance, volume: (id: string) => VolumeInfo | undefined = () => undefined) {
  const c = inst.config;
  const s: SummaryLike = {
    id: inst.id,
    name: inst.name,
    image: c.image,
    imageId: c.imageId,
    command: [...c.entrypoint, ...c.cmd].join(' '),
    createdAt: inst.createdAt,
    status: inst.state.status,
    exitCode: inst.state.exitCode,
    startedAt: inst.state.startedAt,
    finishedAt: inst.state.finishedAt,
    ...(healthOf(inst) ? { health: healthOf(inst)!.Status } : {}),
    ports: c.ports ?? [],
    labels: c.labels,
    networks: c.networks ?? [],
  };
  return { ...containerSummaryJson(s), HostConfig: { NetworkMode: networkMode(inst) }, Mounts: mountPoints(inst, volume) };
}
