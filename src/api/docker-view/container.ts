import { humanDuration } from '../../core/human.js';
import type { Instance, InstanceStatus } from '../../core/instance.js';
import type { NetworkAttachment, PortMapping } from '../../core/network.js';
import { mountPoints, type MountLike } from './mounts.js';

/**
 * A container (or VM) in the shapes docker's Engine API gives: the
 * `GET /containers/{id}/json` document (ContainerJSON) and the
 * `GET /containers/json` row. Pure functions of Hull's records, so the CLI's
 * templates and a Docker-compatible API can share them. Fields Hull has no
 * data for are docker's empty values; Go maps (labels, networks, port
 * bindings) are plain records here and become Go maps in the templates.
 */

/** Docker's never: Go's zero time. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Docker's State.Status names: `creating` has no twin in docker, where a container exists only once created. */
export function dockerStatus(s: InstanceStatus): string {
  return s === 'creating' ? 'created' : s;
}

/** `Up 2 minutes`, `Exited (0) About a minute ago`, `Created`: docker's Status column, at `now`. */
export function statusText(s: { status: string; exitCode: number; startedAt: string; finishedAt: string; health?: string }, now = Date.now()): string {
  const since = (iso: string) => humanDuration(Math.max(0, now - Date.parse(iso)));
  switch (s.status) {
    case 'running':
      // As docker's: `Up 2 minutes (healthy)`, `(unhealthy)`, `(health: starting)`.
      return `Up ${since(s.startedAt)}${s.health ? (s.health === 'starting' ? ' (health: starting)' : ` (${s.health})`) : ''}`;
    case 'paused':
      return `Up ${since(s.startedAt)} (Paused)`;
    case 'exited':
      return s.finishedAt ? `Exited (${s.exitCode}) ${since(s.finishedAt)} ago` : `Exited (${s.exitCode})`;
    case 'removing':
      return 'Removal In Progress';
    case 'created':
    case 'creating':
      return 'Created';
    default:
      return s.status;
  }
}

function stateJson(inst: Instance) {
  const s = inst.state;
  return {
    Status: dockerStatus(s.status),
    Running: s.status === 'running' || s.status === 'paused',
    Paused: s.status === 'paused',
    // docker: restarting while its restart policy waits out a back-off.
    Restarting: s.status === 'exited' && !!s.nextRestartAt,
    OOMKilled: s.oomKilled,
    Dead: false,
    Pid: s.pid,
    ExitCode: s.exitCode,
    Error: s.error,
    StartedAt: s.startedAt || ZERO_TIME,
    FinishedAt: s.finishedAt || ZERO_TIME,
    // Hull's: docker has it at the top level only (it is there too).
    RestartCount: s.restartCount,
    // docker's Health: null for a container without a health check (a nil pointer in docker's struct).
    Health: s.health ? { Status: s.health.status, FailingStreak: s.health.failingStreak, Log: s.health.log.map((r) => ({ Start: r.start, End: r.end, ExitCode: r.exitCode, Output: r.output })) } : null,
  };
}

/** `80/tcp` → [{HostIp, HostPort}], docker's PortBindings and NetworkSettings.Ports. */
export function portBindings(ports: PortMapping[]): Record<string, Array<{ HostIp: string; HostPort: string }>> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of ports) (out[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
  return out;
}

export function endpointJson(a: NetworkAttachment, inst: { id: string; name: string }) {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: a.aliases,
    MacAddress: a.macAddress,
    NetworkID: a.networkId,
    EndpointID: `${a.networkId.slice(0, 32)}${inst.id.slice(0, 32)}`,
    Gateway: a.gateway,
    IPAddress: a.ipAddress,
    IPPrefixLen: a.prefixLen,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DriverOpts: null,
    DNSNames: [inst.name, ...a.aliases, inst.id.slice(0, 12)],
  };
}

function networkSettings(inst: Instance) {
  const nets = inst.config.networks ?? [];
  const first = nets[0];
  return {
    Bridge: '',
    SandboxID: '',
    SandboxKey: '',
    Ports: portBindings(inst.config.ports ?? []),
    // docker fills these from the default bridge network only; Hull from the first network joined.
    Gateway: first?.gateway ?? '',
    IPAddress: first?.ipAddress ?? '',
    IPPrefixLen: first?.prefixLen ?? 0,
    MacAddress: first?.macAddress ?? '',
    Networks: Object.fromEntries(nets.map((a) => [a.network, endpointJson(a, inst)])),
  };
}

function hostConfig(inst: Instance) {
  const c = inst.config;
  const r = c.resources;
  return {
    NetworkMode: c.networkMode === 'bridge' ? (c.networks?.[0]?.network ?? 'bridge') : (c.networkMode ?? 'none'),
    PortBindings: portBindings(c.ports ?? []),
    RestartPolicy: { Name: c.restartPolicy.name, MaximumRetryCount: c.restartPolicy.maxRetries ?? 0 },
    AutoRemove: c.autoRemove,
    Runtime: c.runtime,
    Memory: r.memoryBytes ?? 0,
    NanoCpus: r.cpus ? Math.round(r.cpus * 1e9) : 0,
    PidsLimit: r.pidsLimit === undefined || r.pidsLimit < 0 ? null : r.pidsLimit,
    Privileged: false,
    ReadonlyRootfs: false,
    SecurityOpt: c.noNewPrivileges ? ['no-new-privileges'] : null,
    UsernsMode: c.userns ? 'private' : '',
    Init: c.init ?? false,
    // docker's is for Windows (process, hyperv); Hull's: a container in a VM of its own.
    Isolation: inst.type === 'vm' ? 'vm' : (c.isolation ?? ''),
  };
}

/** docker's ContainerJSON (`docker inspect`), from a Hull record. */
export function containerJson(inst: Instance) {
  const c = inst.config;
  const argv = [...c.entrypoint, ...c.cmd];
  return {
    Id: inst.id,
    Created: inst.createdAt,
    Path: argv[0] ?? '',
    Args: argv.slice(1),
    State: stateJson(inst),
    Image: c.imageId,
    Name: `/${inst.name}`,
    RestartCount: inst.state.restartCount,
    Driver: inst.type === 'vm' ? 'qcow2' : 'overlay',
    Platform: 'linux',
    HostConfig: hostConfig(inst),
    Mounts: mountPoints(c.mounts ?? []),
    Config: {
      Hostname: c.hostname,
      Domainname: '',
      User: c.user,
      Tty: c.tty,
      OpenStdin: c.openStdin,
      Env: c.env,
      Cmd: c.cmd,
      Image: c.image,
      WorkingDir: c.workingDir,
      Entrypoint: c.entrypoint,
      Labels: c.labels,
    },
    NetworkSettings: networkSettings(inst),
  };
}

/** A Hull container summary (routes/containers.ts summary()) with what `ps` needs. */
export interface SummaryLike {
  id: string;
  name: string;
  image: string;
  imageId?: string;
  command: string;
  createdAt: string;
  status: string;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  /** The health check's status, when the container has one and runs. */
  health?: string;
  ports?: PortMapping[];
  labels?: Record<string, string>;
  networks?: Array<Pick<NetworkAttachment, 'network' | 'networkId' | 'ipAddress' | 'gateway' | 'macAddress' | 'prefixLen' | 'aliases'>>;
  mounts?: MountLike[];
}

/** docker's `GET /containers/json` row. */
export function containerSummaryJson(s: SummaryLike, now = Date.now()) {
  return {
    Id: s.id,
    Names: [`/${s.name}`],
    Image: s.image,
    ImageID: s.imageId ?? '',
    Command: s.command,
    Created: Math.floor(Date.parse(s.createdAt) / 1000),
    Ports: (s.ports ?? []).map((p) => ({ IP: p.hostIp || '0.0.0.0', PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.protocol })),
    Labels: s.labels ?? {},
    State: dockerStatus(s.status as InstanceStatus),
    Status: statusText(s, now),
    NetworkSettings: { Networks: Object.fromEntries((s.networks ?? []).map((a) => [a.network, { NetworkID: a.networkId, IPAddress: a.ipAddress, Gateway: a.gateway, MacAddress: a.macAddress, IPPrefixLen: a.prefixLen, Aliases: a.aliases }])) },
    Mounts: mountPoints(s.mounts ?? []) as Array<{ Name?: string; Source?: string; Driver?: string }>,
  };
}
