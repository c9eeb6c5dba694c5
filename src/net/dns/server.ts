import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import net from 'node:net';
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
    private tcp: net.Server,
    readonly port: number,
  ) {}

  /** UDP and TCP on one port of the address (a few tries: the kernel picks the UDP port, TCP must get the same). */
  static async start(o: DnsServerOptions): Promise<DnsServer> {
    for (let attempt = 0; ; attempt++) {
      const sock = createSocket({ type: 'udp4' });
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind({ address: o.address, port: 0 }, () => {
          sock.off('error', reject);
          resolve();
        });
      });
      const port = sock.address().port;
      const tcp = net.createServer();
      const bound = await new Promise<boolean>((resolve) => {
        tcp.once('error', () => resolve(false));
        tcp.listen({ host: o.address, port }, () => resolve(true));
      });
      if (!bound) {
        sock.close();
        if (attempt < 5) continue;
        throw new Error(`no port free for both UDP and TCP on ${o.address}`);
      }
      const s = new DnsServer(o, sock, tcp, port);
      sock.on('message', (msg, rinfo) => s.onQuery(msg, rinfo));
      sock.on('error', () => undefined);
      tcp.on('connection', (c) => s.onTcp(c));
      tcp.on('error', () => undefined);
      return s;
    }
  }

  /** An answer given here, or undefined when the query is for the upstreams. */
  private local(msg: Buffer, client: string): Buffer | undefined {
    const q = parseQuery(msg);
    if (!q) return formErr(msg) ?? Buffer.alloc(0);
    const known = this.o.lookup(q.name.replace(/\.$/, ''), client);
    // A known name has only IPv4 addresses: other types get "no data", not a forward.
    if (known) return buildAnswer(msg, q, q.type === TYPE_A ? known : []);
    if (!this.o.upstreams.length) return buildAnswer(msg, q, [], RCODE.refused);
    // A single-label name is an instance name or nothing: never sent to the outside world.
    if (!q.name.includes('.')) return buildAnswer(msg, q, [], RCODE.nxDomain);
    return undefined;
  }

  private onQuery(msg: Buffer, client: RemoteInfo): void {
    const out = this.local(msg, client.address);
    if (out) return void (out.length && this.sock.send(out, client.port, client.address));
    this.forward(msg, client, msg.readUInt16BE(0));
  }

  /** DNS over TCP (RFC 7766): two-byte length, message; answered here or relayed over TCP to an upstream. */
  private onTcp(c: net.Socket): void {
    let buf = Buffer.alloc(0);
    c.setTimeout(10_000, () => c.destroy());
    c.on('error', () => undefined);
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const out = this.local(msg, c.remoteAddress?.replace(/^::ffff:/, '') ?? '');
        const reply = out ? Promise.resolve(out) : forwardTcp(msg, this.o.upstreams, this.o.timeoutMs ?? 2000);
        void reply.then((r) => r.length && c.write(Buffer.concat([u16(r.length), r])));
      }
    });
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
    this.tcp.close();
    this.upstream?.close();
  }
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);

/** One query over TCP to each upstream in turn; SERVFAIL when none answers. */
async function forwardTcp(msg: Buffer, upstreams: Upstream[], timeoutMs: number): Promise<Buffer> {
  for (const up of upstreams) {
    const r = await new Promise<Buffer | undefined>((resolve) => {
      const c = net.connect({ host: up.host, port: up.port });
      let buf = Buffer.alloc(0);
      const done = (v: Buffer | undefined) => (c.destroy(), resolve(v));
      c.setTimeout(timeoutMs, () => done(undefined));
      c.on('error', () => done(undefined));
      c.on('connect', () => c.write(Buffer.concat([u16(msg.length), msg])));
      c.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      });
    });
    if (r) return r;
  }
  const q = parseQuery(msg);
  return q ? buildAnswer(msg, q, [], RCODE.servFail) : Buffer.alloc(0);
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
