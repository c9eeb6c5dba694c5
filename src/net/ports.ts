import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import net from 'node:net';
import { HullError, conflict, invalid } from '../core/errors.js';
import type { PortMapping } from '../core/network.js';
import { isIpv4 } from './ipv4.js';

/**
 * Published host ports, reserved host-wide in one store document so that two
 * containers never publish the same port (concurrent creates go through the
 * store's atomic update). A host port is taken for a protocol when another
 * reservation has the same port and the same host address, or either is
 * "every address".
 */
export interface PortReservation extends PortMapping {
  instanceId: string;
  instance: string;
}

export interface PortsDoc {
  id: string;
  reservations: PortReservation[];
}

export const PORTS_DOC_ID = 'net-ports';
/** Where picked host ports come from: the kernel's default ephemeral range. */
export const EPHEMERAL = { first: 32768, last: 60999 };

const clash = (a: PortMapping, b: PortMapping) => a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIp === '' || b.hostIp === '' || a.hostIp === b.hostIp);

/** Reserve `wanted` for an instance; host port 0 picks a free one. Throws `conflict` naming the holder. */
export function reserve(doc: PortsDoc, inst: { id: string; name: string }, wanted: PortMapping[], pick = randomStart): { doc: PortsDoc; mappings: PortMapping[] } {
  const taken = doc.reservations.filter((r) => r.instanceId !== inst.id);
  const mine: PortReservation[] = [];
  for (const w of wanted) {
    if (w.hostIp && !isIpv4(w.hostIp)) throw invalid(`host address "${w.hostIp}" is not an IPv4 address`);
    let m = { ...w };
    if (m.hostPort === 0) m = { ...m, hostPort: freePort(m, [...taken, ...mine], pick) };
    const holder = [...taken, ...mine].find((r) => clash(r, m));
    if (holder) {
      const who = holder.instanceId === inst.id ? 'this container already' : `container ${holder.instance}`;
      throw conflict(`port ${m.hostIp || '0.0.0.0'}:${m.hostPort}/${m.protocol} is already published by ${who}`);
    }
    mine.push({ ...m, instanceId: inst.id, instance: inst.name });
  }
  const mappings = mine.map(({ hostIp, hostPort, containerPort, protocol }) => ({ hostIp, hostPort, containerPort, protocol }));
  return { doc: { ...doc, reservations: [...taken, ...mine] }, mappings };
}

export function unreserve(doc: PortsDoc, instanceId: string): PortsDoc {
  return { ...doc, reservations: doc.reservations.filter((r) => r.instanceId !== instanceId) };
}

function randomStart(): number {
  return randomInt(EPHEMERAL.first, EPHEMERAL.last + 1);
}

function freePort(m: PortMapping, taken: PortMapping[], pick: () => number): number {
  const span = EPHEMERAL.last - EPHEMERAL.first + 1;
  const start = pick() - EPHEMERAL.first;
  for (let i = 0; i < span; i++) {
    const port = EPHEMERAL.first + ((start + i) % span);
    if (!taken.some((t) => clash(t, { ...m, hostPort: port }))) return port;
  }
  throw new HullError('resource', `no free host port left for ${m.protocol}`);
}

/**
 * Is the host port free of other programs? Bound for a moment and let go:
 * a program already listening there would never see its traffic once the
 * DNAT rule takes it, so publishing over it is refused (as docker and podman,
 * whose proxies bind the port, refuse it).
 */
export async function hostPortFree(m: PortMapping): Promise<boolean> {
  const host = m.hostIp || '0.0.0.0';
  const outcome = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    if (m.protocol === 'udp') {
      const s = createSocket('udp4');
      s.once('error', (e) => (s.close(), resolve(e)));
      s.bind({ address: host, port: m.hostPort, exclusive: true }, () => s.close(() => resolve(undefined)));
    } else {
      const srv = net.createServer();
      srv.once('error', (e) => resolve(e));
      srv.listen({ host, port: m.hostPort, exclusive: true }, () => srv.close(() => resolve(undefined)));
    }
  });
  if (!outcome) return true;
  if (outcome.code === 'EADDRINUSE') return false;
  if (outcome.code === 'EADDRNOTAVAIL') throw invalid(`host address ${m.hostIp} is not an address of this host`);
  // EACCES and the like: nothing to say about other programs.
  return true;
}

/**
 * Hold a published port on the host while its container runs, as docker's
 * and podman's proxies do: the socket is bound (and, for TCP, listening) but
 * never sees traffic, which the DNAT rule takes first; what it does is keep
 * any other program from starting to listen there and silently losing its
 * connections to the container. Released with the returned function.
 */
export async function holdHostPort(m: PortMapping): Promise<() => Promise<void>> {
  const host = m.hostIp || '0.0.0.0';
  if (m.protocol === 'udp') {
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind({ address: host, port: m.hostPort, exclusive: true }, () => resolve());
    }).catch((e: NodeJS.ErrnoException) => {
      s.close();
      throw busy(m, e);
    });
    s.on('error', () => undefined);
    s.on('message', () => undefined); // nothing reaches it past the DNAT rule; anything that does is dropped
    return () => new Promise<void>((resolve) => s.close(() => resolve()));
  }
  const srv = net.createServer((c) => c.destroy());
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host, port: m.hostPort, exclusive: true }, () => resolve());
  }).catch((e: NodeJS.ErrnoException) => {
    srv.close();
    throw busy(m, e);
  });
  srv.on('error', () => undefined);
  return () => new Promise<void>((resolve) => srv.close(() => resolve()));
}

function busy(m: PortMapping, e: NodeJS.ErrnoException): HullError {
  if (e.code === 'EADDRINUSE') return conflict(`port ${m.hostIp || '0.0.0.0'}:${m.hostPort}/${m.protocol} is in use on the host by another program`);
  return new HullError('internal', `cannot hold port ${m.hostIp || '0.0.0.0'}:${m.hostPort}/${m.protocol}: ${e.message}`);
}
