import type { containerSummaryJson } from '../../api/docker-view/container.js';
import { humanDuration } from '../../core/human.js';
import { struct } from '../template/index.js';
import { goQuote } from '../template/printf.js';

/**
 * What a `ps --format` template sees for one container: docker's
 * ContainerContext (cli/command/formatter/container.go), fields in the order
 * its JSON has them (sorted), and Hull's Type. Computed from docker's
 * `/containers/json` row, so it can be checked against docker's own client.
 */
export type DockerSummary = ReturnType<typeof containerSummaryJson>;

export const CONTAINER_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Label: 'LABEL',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
  Platform: 'PLATFORM',
  Type: 'TYPE',
};

/** docker's default `ps` table, and Hull's with its TYPE column (containers, VMs, VM-isolated containers). */
export const CONTAINER_TABLE = 'table {{.ID}}\t{{.Type}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

export function containerContext(c: DockerSummary, o: { trunc: boolean; type: string; now?: number }) {
  const labels = Object.entries(c.Labels ?? {});
  const mounts = c.Mounts.map((m) => (m.Name || m.Source) ?? '').map((n) => (o.trunc ? ellipsis(n, 15) : n));
  return struct('*formatter.ContainerContext', {
    Command: goQuote(o.trunc ? ellipsis(c.Command, 20) : c.Command),
    CreatedAt: goTime(c.Created * 1000),
    ID: o.trunc ? truncateId(c.Id) : c.Id,
    Image: c.Image || '<no image>',
    Label: (name: unknown) => c.Labels?.[String(name)] ?? '',
    Labels: labels.map(([k, v]) => `${k}=${v}`).sort().join(','),
    LocalVolumes: String(c.Mounts.filter((m) => m.Driver === 'local').length),
    Mounts: mounts.join(','),
    // Truncated: the first name that is not a legacy link's (`/other/alias`), as docker's.
    Names: o.trunc ? (c.Names.map((n) => n.replace(/^\//, '')).find((n) => !n.includes('/')) ?? '') : c.Names.map((n) => n.replace(/^\//, '')).join(','),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).sort().join(','),
    Platform: null,
    Ports: displayablePorts(c.Ports),
    RunningFor: `${humanDuration(Math.max(0, (o.now ?? Date.now()) - c.Created * 1000))} ago`,
    // Hull does not measure a container's writable layer.
    Size: 'N/A',
    State: c.State,
    Status: c.Status,
    Type: o.type,
  });
}

/** formatter.TruncateID: no `sha256:`, 12 characters. */
export const truncateId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/** formatter.Ellipsis: at most `max` characters, the last an ellipsis. */
export function ellipsis(s: string, max: number): string {
  const cs = [...s];
  return cs.length <= max ? s : `${cs.slice(0, max - 1).join('')}…`;
}

/** Go's time.Time.String() for a whole second: `2023-11-14 22:13:20 +0000 UTC` (in UTC). */
export function goTime(ms: number): string {
  const d = new Date(ms);
  const frac = d.getUTCMilliseconds() ? `.${String(d.getUTCMilliseconds()).padStart(3, '0').replace(/0+$/, '')}` : '';
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}${frac} +0000 UTC`;
}

interface Port {
  IP: string;
  PrivatePort: number;
  PublicPort: number;
  Type: string;
}

/** formatter.DisplayablePorts: `0.0.0.0:8080->80/tcp, 9000-9001/udp`. */
export function displayablePorts(ports: Port[]): string {
  const sorted = [...ports].sort((a, b) => a.PrivatePort - b.PrivatePort || cmp(a.IP, b.IP) || a.PublicPort - b.PublicPort || cmp(a.Type, b.Type));
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  for (const p of sorted) {
    let key = p.Type;
    if (p.IP) {
      if (p.PublicPort !== p.PrivatePort) {
        hostMappings.push(`${p.IP}:${p.PublicPort}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
    else if (p.PrivatePort === g.last + 1) g.last = p.PrivatePort;
    else {
      result.push(formGroup(key, g));
      groups.set(key, { first: p.PrivatePort, last: p.PrivatePort }); // keeps its place in the order
    }
  }
  for (const [key, g] of groups) result.push(formGroup(key, g));
  return [...result, ...hostMappings].join(', ');
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function formGroup(key: string, g: { first: number; last: number }): string {
  const [a, b] = key.split('/');
  const [ip, type] = b === undefined ? ['', a] : [a, b];
  const range = g.first === g.last ? String(g.first) : `${g.first}-${g.last}`;
  return `${ip ? `${ip}:${range}->${range}` : range}/${type}`;
}
