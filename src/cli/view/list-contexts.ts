import type { imageSummaryJson } from '../../api/docker-view/image.js';
import { bytesSize, humanDuration, humanSize } from '../../core/human.js';
import { struct } from '../template/index.js';
import { goTime, truncateId } from './container-context.js';

/**
 * What `--format` templates see for a row of `images`, `network ls`,
 * `vm ls` and `stats`: docker's formatter contexts (fields sorted, as their
 * JSON), with the header each field has in a `table` template.
 */
const ago = (ms: number, now = Date.now()) => `${humanDuration(Math.max(0, now - ms))} ago`;

export const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  VirtualSize: 'VIRTUAL SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
};

/** One row per name of the image (`<none>` for an image without one), as `docker images`. */
export function imageContexts(i: ReturnType<typeof imageSummaryJson>, o: { trunc: boolean; now?: number }) {
  const names = i.RepoTags.length ? i.RepoTags : ['<none>:<none>'];
  return names.map((t) => {
    const at = t.lastIndexOf(':');
    return struct('*formatter.ImageContext', {
      Containers: i.Containers < 0 ? 'N/A' : String(i.Containers),
      CreatedAt: goTime(i.Created * 1000),
      CreatedSince: ago(i.Created * 1000, o.now),
      Digest: i.RepoDigests.find((d) => d.startsWith(`${t.slice(0, at)}@`))?.split('@')[1] ?? '<none>',
      ID: o.trunc ? truncateId(i.Id) : i.Id,
      Repository: t.slice(0, at),
      SharedSize: i.SharedSize < 0 ? 'N/A' : humanSize(i.SharedSize),
      Size: humanSize(i.Size),
      Tag: t.slice(at + 1),
      UniqueSize: 'N/A',
      VirtualSize: humanSize(i.Size, 4),
    });
  });
}

export const NETWORK_HEADERS: Record<string, string> = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv4: 'IPV4',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  Label: 'LABEL',
  CreatedAt: 'CREATED AT',
  Subnet: 'SUBNET',
  Gateway: 'GATEWAY',
  Containers: 'CONTAINERS',
};

export interface NetworkRow {
  id: string;
  name: string;
  driver: string;
  createdAt: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  labels?: Record<string, string>;
  containers: number;
}

/** docker's network formatter context, and Hull's Subnet, Gateway and Containers (a count). */
export function networkContext(n: NetworkRow, o: { trunc: boolean }) {
  const labels = n.labels ?? {};
  return struct('network.networkContext', {
    Containers: String(n.containers),
    CreatedAt: goTime(Date.parse(n.createdAt)),
    Driver: n.driver,
    Gateway: n.gateway,
    ID: o.trunc ? truncateId(n.id) : n.id,
    IPv4: 'true',
    IPv6: 'false',
    Internal: String(n.internal),
    Label: (k: unknown) => labels[String(k)] ?? '',
    Labels: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(','),
    Name: n.name,
    Scope: 'local',
    Subnet: n.subnet,
  });
}

export const VM_HEADERS: Record<string, string> = { ID: 'VM ID', Name: 'NAME', Names: 'NAMES', Image: 'IMAGE', State: 'STATE', Status: 'STATUS', CreatedAt: 'CREATED AT', RunningFor: 'CREATED' };

/** `vm ls` rows: Hull's own (docker has no VMs), named as `ps` names its fields. */
export function vmContext(v: { id: string; name: string; image: string; status: string; createdAt: string; statusText: string }, o: { trunc: boolean; now?: number }) {
  return struct('vmContext', {
    CreatedAt: goTime(Date.parse(v.createdAt)),
    ID: o.trunc ? truncateId(v.id) : v.id,
    Image: v.image,
    Name: v.name,
    Names: v.name,
    RunningFor: ago(Date.parse(v.createdAt), o.now),
    State: v.status,
    Status: v.statusText,
  });
}

export const STATS_HEADERS: Record<string, string> = {
  Container: 'CONTAINER',
  Name: 'NAME',
  ID: 'CONTAINER ID',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
  MemCounted: 'MEM COUNTED',
};

export interface StatsRow {
  ref: string;
  id: string;
  name: string;
  cpuPercent: number;
  memoryUsage: number;
  memoryLimit: number;
  /** cgroup: the container's memory cgroup; qemu-rss: the QEMU process's resident memory, against the guest's RAM. */
  memoryCounted?: string;
  pids: number;
}

/** docker's stats context; Hull does not count network or block I/O (`--`), and says what its memory figure counts. */
export function statsContext(s: StatsRow) {
  const qemu = s.memoryCounted === 'qemu-rss';
  return struct('formatter.statsContext', {
    BlockIO: '--',
    CPUPerc: `${s.cpuPercent.toFixed(2)}%`,
    Container: s.ref,
    ID: truncateId(s.id),
    MemCounted: s.memoryCounted ?? 'cgroup',
    MemPerc: s.memoryLimit && !qemu ? `${((s.memoryUsage / s.memoryLimit) * 100).toFixed(2)}%` : '--',
    MemUsage: qemu ? `${bytesSize(s.memoryUsage)} (QEMU RSS) / ${bytesSize(s.memoryLimit)} (guest RAM)` : `${bytesSize(s.memoryUsage)} / ${s.memoryLimit ? bytesSize(s.memoryLimit) : 'unlimited'}`,
    Name: s.name,
    NetIO: '--',
    PIDs: String(s.pids),
  });
}
