import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import net from 'node:net';
import { contains, parseCidr, parseIp, type Cidr } from '../ipv4.js';
import { UdpForwarder, type Upstream } from './forwarder.js';
import { DEFAULT_LIMITS, RateWindow, type DnsLimits } from './limits.js';
import { RCODE, TYPE_A, buildAnswer, formErr, parseQuery, type Query } from './message.js';
import { TcpServing, forwardTcp } from './tcp.js';

export type { Upstream } from './forwarder.js';
export { hostUpstreams } from './upstreams.js';

export interface DnsServerOptions {
  /** The address to listen on (a network's gateway); the port is picked by the kernel. */
  address: string;
  /** Addresses for a name the asking client may see (instance names, aliases), or undefined. */
  lookup: (name: string, client: string) => string[] | undefined;
  /** Where other names go; none: they are refused. */
  upstreams: Upstream[];
  /** Whether this client's other names go to the upstreams (absent: every client's do). */
  forwards?: (client: string) => boolean;
  /** Only clients in this CIDR (the network's subnet) are answered; others are dropped unread. */
  clients?: string;
  limits?: Partial<DnsLimits>;
}

/**
 * One network's name server, in the daemon. It listens on the gateway
 * address at a port of the kernel's choosing; Hull's nftables rules send the
 * network's queries to gateway:53 there, so it works whatever holds the
 * host's port 53. Names of this network are answered here; others are
 * forwarded to the host's resolvers (forwarder.ts, tcp.ts), within the
 * limits of limits.ts: whatever a client sends, each packet costs a bounded
 * amount of work, and what it can hold (forwards, connections) is bounded.
 */
export class DnsServer {
  private forwarder: UdpForwarder;
  private tcpServing: TcpServing;
  private rate: RateWindow;
  private clients?: Cidr;
  private limits: DnsLimits;

  private constructor(
    private o: DnsServerOptions,
    private sock: Socket,
    private tcp: net.Server,
    readonly port: number,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...o.limits };
    this.clients = o.clients ? parseCidr(o.clients) : undefined;
    this.rate = new RateWindow(this.limits.clientRate, this.limits.serverRate);
    this.forwarder = new UdpForwarder(o.upstreams, this.limits, (out, c) => this.send(out, c));
    this.tcpServing = new TcpServing(this.limits, (msg, client) => this.answerTcp(msg, client));
  }

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
      tcp.on('connection', (c) => (s.admits(c.remoteAddress?.replace(/^::ffff:/, '') ?? '') ? s.tcpServing.accept(c) : c.destroy()));
      tcp.on('error', () => undefined);
      return s;
    }
  }

  /** Forwards waiting for an upstream (for tests and `inspect`-style checks). */
  get pendingForwards(): number {
    return this.forwarder.size;
  }

  private admits(client: string): boolean {
    return !this.clients || (net.isIPv4(client) && contains(this.clients, parseIp(client)));
  }

  /** An answer given here, or undefined when the query is for the upstreams. */
  private local(msg: Buffer, q: Query, client: string): Buffer | undefined {
    const known = this.o.lookup(q.name.replace(/\.$/, ''), client);
    // A known name has only IPv4 addresses: other types get "no data", not a forward.
    if (known) return buildAnswer(msg, q, q.type === TYPE_A ? known : []);
    if (!this.o.upstreams.length || this.o.forwards?.(client) === false) return buildAnswer(msg, q, [], RCODE.refused);
    // A single-label name is an instance name or nothing: never sent to the outside world.
    if (!q.name.includes('.')) return buildAnswer(msg, q, [], RCODE.nxDomain);
    return undefined;
  }

  private onQuery(msg: Buffer, client: RemoteInfo): void {
    // Port 0 (a forged source) cannot be answered: Node's send would throw in this handler and take the daemon down.
    if (client.port === 0 || !this.admits(client.address) || !this.rate.take(client.address)) return;
    const q = parseQuery(msg);
    const out = q ? (this.local(msg, q, client.address) ?? this.forward(msg, q, client)) : formErr(msg);
    if (out?.length) this.send(out, client);
  }

  private send(out: Buffer, to: { port: number; address: string }): void {
    try {
      this.sock.send(out, to.port, to.address);
    } catch {
      // closed meanwhile, or an address Node refuses: nothing to tell anyone
    }
  }

  /** Forwarded (nothing to send now), or REFUSED when the client or the server holds all it may. */
  private forward(msg: Buffer, q: Query, client: RemoteInfo): Buffer | undefined {
    return this.forwarder.forward(msg, q, client) ? undefined : buildAnswer(msg, q, [], RCODE.refused);
  }

  private async answerTcp(msg: Buffer, client: string): Promise<Buffer | undefined> {
    if (!this.rate.take(client)) return undefined;
    const q = parseQuery(msg);
    if (!q) return formErr(msg);
    return this.local(msg, q, client) ?? forwardTcp(msg, this.o.upstreams, this.limits.timeoutMs);
  }

  close(): void {
    this.forwarder.close();
    this.tcpServing.close();
    this.sock.close();
    this.tcp.close();
  }
}
