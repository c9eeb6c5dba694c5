/**
 * The Run form's text fields as the create body wants them: a command split
 * on whitespace, and published ports as `docker run -p` writes them.
 * Pure, so it is unit-tested.
 */
export interface PortSpec {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

export const splitCommand = (text: string): string[] => text.trim().split(/\s+/).filter(Boolean);

const portNumber = (s: string, what: string, min: number): number => {
  const n = /^\d{1,5}$/.test(s) ? Number(s) : NaN;
  if (!(n >= min && n <= 65535)) throw new Error(`invalid ${what} "${s}"`);
  return n;
};

/** `[hostIp:][hostPort:]containerPort[/tcp|udp]`; hostPort empty or absent picks a free one. */
export function parsePort(spec: string): PortSpec {
  const [addr, proto = 'tcp', ...extra] = spec.split('/');
  if (extra.length || (proto !== 'tcp' && proto !== 'udp')) throw new Error(`invalid port "${spec}": use [IP:][HOST:]CONTAINER[/tcp|udp]`);
  const parts = addr.split(':');
  if (parts.length > 3) throw new Error(`invalid port "${spec}": use [IP:][HOST:]CONTAINER[/tcp|udp]`);
  const containerPort = portNumber(parts[parts.length - 1], 'container port', 1);
  const host = parts.length >= 2 ? parts[parts.length - 2] : '';
  return { hostIp: parts.length === 3 ? parts[0] : '', hostPort: host ? portNumber(host, 'host port', 0) : 0, containerPort, protocol: proto };
}

/** Ports separated by commas or spaces. */
export const parsePorts = (text: string): PortSpec[] => text.split(/[\s,]+/).filter(Boolean).map(parsePort);
