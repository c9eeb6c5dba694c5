import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIpv4 } from '../ipv4.js';
import { RCODE, TYPE_A, buildAnswer, formErr, parseQuery } from './message.js';

export interface Upstream {
  host: string;
  port: number;
}

export interface DnsServerOptions {
  /** The address to listen on (a network's gateway); the port is picked by the kernel. */
  address: string;
  /** Addresses for a name the asking client may see (instance names, aliases), or undefined. */
  lookup: (name: string, client: string) => string[] | undefined;
  /** Where other names go; none: they are refused (internal networks). */
  upstreams: Upstream[];
  timeoutMs?: number;
}

interface Pending {
  client: RemoteInfo;
  id: number;
  packet: Buffer;
  next: number;
  timer: NodeJS.Timeout;
}

/**
 * One network's name server, in the daemon. It listens on the gateway
 * address at a port of the kernel's choosing; Hull's nftables rules send the
 * network's queries to gateway:53 there, so it works whatever holds the
 * host's port 53. Names of this network are answered here; others are
 * forwarded to the host's resolvers (with a fresh id, tried in turn).
 */
export class DnsServer {
  private upstream?: Socket;
  private pending = new Map<number, Pending>();

  private constructor(
    private o: DnsServerOptions,
    private sock: Socket,
    readonly port: number,
  ) {}

  static async start(o: DnsServerOptions): Promise<DnsServer> {
    const sock = createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ address: o.address, port: 0 }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    const s = new DnsServer(o, sock, sock.address().port);
    sock.on('message', (msg, rinfo) => s.onQuery(msg, rinfo));
    sock.on('error', () => undefined);
    return s;
  }

  private onQuery(msg: Buffer, client: RemoteInfo): void {
    const q = parseQuery(msg);
    if (!q) {
      const err = formErr(msg);
      if (err) this.sock.send(err, client.port, client.address);
      return;
    }
    const known = this.o.lookup(q.name.replace(/\.$/, ''), client.address);
    if (known) {
      // A known name has only IPv4 addresses: other types get "no data", not a forward.
      const ips = q.type === TYPE_A ? known : [];
      return void this.sock.send(buildAnswer(msg, q, ips), client.port, client.address);
    }
    if (!this.o.upstreams.length) return void this.sock.send(buildAnswer(msg, q, [], RCODE.refused), client.port, client.address);
    // A single-label name is an instance name or nothing: never sent to the outside world.
    if (!q.name.includes('.')) return void this.sock.send(buildAnswer(msg, q, [], RCODE.nxDomain), client.port, client.address);
    this.forward(msg, client, q.id);
  }

  private forward(msg: Buffer, client: RemoteInfo, id: number): void {
    let fid = randomInt(0, 65536);
    while (this.pending.has(fid)) fid = (fid + 1) & 0xffff;
    const packet = Buffer.from(msg);
    packet.writeUInt16BE(fid, 0);
    const p: Pending = { client, id, packet, next: 0, timer: undefined as unknown as NodeJS.Timeout };
    this.pending.set(fid, p);
    this.sendUpstream(fid, p);
  }

  private sendUpstream(fid: number, p: Pending): void {
    const up = this.o.upstreams[p.next++];
    if (!up) {
      this.pending.delete(fid);
      const q = parseQuery(p.packet)!;
      const fail = buildAnswer(p.packet, q, [], RCODE.servFail);
      fail.writeUInt16BE(p.id, 0);
      return void this.sock.send(fail, p.client.port, p.client.address);
    }
    this.upstreamSocket().send(p.packet, up.port, up.host);
    p.timer = setTimeout(() => this.sendUpstream(fid, p), this.o.timeoutMs ?? 2000);
  }

  private upstreamSocket(): Socket {
    if (this.upstream) return this.upstream;
    const s = createSocket({ type: 'udp4' });
    s.on('message', (msg) => {
      if (msg.length < 12) return;
      const p = this.pending.get(msg.readUInt16BE(0));
      if (!p) return;
      clearTimeout(p.timer);
      this.pending.delete(msg.readUInt16BE(0));
      const out = Buffer.from(msg);
      out.writeUInt16BE(p.id, 0);
      this.sock.send(out, p.client.port, p.client.address);
    });
    s.on('error', () => undefined);
    s.bind(0);
    this.upstream = s;
    return s;
  }

  close(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    this.sock.close();
    this.upstream?.close();
  }
}

/**
 * The host's resolvers: HULL_DNS_UPSTREAM (`ip[:port],...`, for tests and
 * special set-ups) or the IPv4 nameservers of /etc/resolv.conf. Loopback
 * resolvers (systemd-resolved's 127.0.0.53) work: the forwarder runs on the host.
 */
export async function hostUpstreams(env = process.env.HULL_DNS_UPSTREAM, resolvConf = '/etc/resolv.conf'): Promise<Upstream[]> {
  if (env) {
    return env
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const [host, port] = s.split(':');
        return { host, port: port ? Number(port) : 53 };
      })
      .filter((u) => isIpv4(u.host) && u.port > 0 && u.port < 65536);
  }
  const text = await readFile(resolvConf, 'utf8').catch(() => '');
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]).filter(isIpv4).map((host) => ({ host, port: 53 }));
}
