import { invalid } from './errors.js';
import type { PortMapping, PortProtocol } from './network.js';

/**
 * `-p` specs as docker takes them: `[hostIP:][hostPort:]containerPort[/tcp|udp]`,
 * where ports may be ranges of equal length (`8000-8002:80-82`) and an empty or
 * missing host port means "pick a free one". Returns one mapping per port.
 */
export function parsePublish(spec: string): PortMapping[] {
  const bad = (why: string) => invalid(`invalid port spec "${spec}": ${why}`);
  let rest = spec;
  let protocol: PortProtocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1);
    if (p !== 'tcp' && p !== 'udp') throw bad('the protocol must be tcp or udp');
    protocol = p;
    rest = rest.slice(0, slash);
  }
  const parts = rest.split(':');
  if (parts.length > 3) throw bad('use [hostIP:][hostPort:]containerPort[/tcp|udp]');
  const containerPart = parts[parts.length - 1];
  const hostPart = parts.length >= 2 ? parts[parts.length - 2] : '';
  const hostIp = parts.length === 3 ? parts[0] : '';
  if (hostIp && !/^\d+\.\d+\.\d+\.\d+$/.test(hostIp)) throw bad(`host address "${hostIp}" is not IPv4`);
  const cPorts = portRange(containerPart, bad);
  const hPorts = hostPart === '' ? cPorts.map(() => 0) : portRange(hostPart, bad);
  if (hPorts.length !== cPorts.length) throw bad('host and container port ranges must have the same length');
  return cPorts.map((containerPort, i) => ({ hostIp: hostIp === '0.0.0.0' ? '' : hostIp, hostPort: hPorts[i], containerPort, protocol }));
}

function portRange(s: string, bad: (why: string) => Error): number[] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  if (!m) throw bad(`"${s}" is not a port or a port range`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi > 65535 || hi < lo) throw bad(`ports must be 1-65535 and ranges low-high`);
  if (hi - lo >= 1024) throw bad('a range may hold at most 1024 ports');
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

/** `80/tcp` (an image's ExposedPorts key) → port and protocol. */
export function parseExposed(key: string): { containerPort: number; protocol: PortProtocol } | undefined {
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(key.trim());
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) return undefined;
  return { containerPort: Number(m[1]), protocol: (m[2] as PortProtocol) ?? 'tcp' };
}

/** `0.0.0.0:8080->80/tcp`, as docker ps shows it. */
export function formatPort(p: PortMapping): string {
  return `${p.hostIp || '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`;
}
