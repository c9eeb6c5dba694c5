import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { RCODE, answers, buildAnswer, type Query } from './message.js';
import { Counts, type DnsLimits } from './limits.js';

export interface Upstream {
  host: string;
  port: number;
}

export interface Client {
  address: string;
  port: number;
}

/** One query on its way to the upstreams. */
interface Forward {
  client: Client;
  /** The client's id, put back on the answer. */
  clientId: number;
  /** The query as sent upstream: the client's bytes with a random id. */
  packet: Buffer;
  q: Query;
  id: number;
  /** The next upstream to try. */
  next: number;
  sock?: Socket;
  timer?: NodeJS.Timeout;
}

/**
 * The UDP half of a name server's forwarding: each query goes upstream from
 * a socket of its own, connected to that upstream, with a random id. So an
 * answer is believed only when it comes from the upstream's address and
 * port (the kernel drops the rest on a connected socket, and the source is
 * checked again here), to the random port of that one query, with the random
 * id and the same question. Everything else is dropped. (A container that
 * can forge source addresses must guess 16 bits of port and 16 of id within
 * the query's few seconds.)
 *
 *   forward(msg, q, client)  false when a limit refuses it (the caller answers REFUSED)
 *   close()                  every waiting forward dropped, its socket closed
 *
 * Each forward lives at most `timeoutMs` per upstream: the next is tried
 * after a timeout or an ICMP refusal, SERVFAIL after the last.
 */
export class UdpForwarder {
  /** Forwards waiting in every forwarder of the process (the daemon's name servers together). */
  private static inProcess = 0;
  private pending = new Set<Forward>();
  private perClient = new Counts();

  constructor(
    private upstreams: Upstream[],
    private limits: Pick<DnsLimits, 'clientPending' | 'serverPending' | 'processPending' | 'timeoutMs'>,
    private reply: (out: Buffer, client: Client) => void,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  forward(msg: Buffer, q: Query, client: Client): boolean {
    if (UdpForwarder.inProcess >= this.limits.processPending || this.pending.size >= this.limits.serverPending || this.perClient.get(client.address) >= this.limits.clientPending) return false;
    const id = randomInt(0, 0x10000);
    const packet = Buffer.from(msg);
    packet.writeUInt16BE(id, 0);
    const f: Forward = { client: { address: client.address, port: client.port }, clientId: q.id, packet, q, id, next: 0 };
    this.pending.add(f);
    this.perClient.add(client.address, 1);
    UdpForwarder.inProcess++;
    this.tryNext(f);
    return true;
  }

  private tryNext(f: Forward): void {
    this.drop(f.sock, f.timer);
    const up = this.upstreams[f.next++];
    if (!up) return this.finish(f, buildAnswer(f.packet, f.q, [], RCODE.servFail));
    const sock = createSocket('udp4');
    f.sock = sock;
    const current = () => f.sock === sock && this.pending.has(f);
    sock.on('message', (m, r) => current() && this.onReply(f, up, m, r));
    // ECONNREFUSED (an ICMP port unreachable on the connected socket), EMFILE, …: the next upstream.
    sock.on('error', () => current() && this.tryNext(f));
    sock.connect(up.port, up.host, () => current() && sock.send(f.packet));
    f.timer = setTimeout(() => current() && this.tryNext(f), this.limits.timeoutMs);
  }

  private onReply(f: Forward, up: Upstream, m: Buffer, r: RemoteInfo): void {
    if (r.address !== up.host || r.port !== up.port || !answers(m, f.id, f.packet, f.q)) return;
    this.finish(f, m);
  }

  private finish(f: Forward, answer: Buffer): void {
    this.end(f);
    const out = Buffer.from(answer);
    out.writeUInt16BE(f.clientId, 0);
    this.reply(out, f.client);
  }

  private end(f: Forward): void {
    if (!this.pending.delete(f)) return;
    this.perClient.add(f.client.address, -1);
    UdpForwarder.inProcess--;
    this.drop(f.sock, f.timer);
    f.sock = undefined;
  }

  private drop(sock?: Socket, timer?: NodeJS.Timeout): void {
    if (timer) clearTimeout(timer);
    if (sock) {
      try {
        sock.close();
      } catch {
        // already closed
      }
    }
  }

  close(): void {
    for (const f of [...this.pending]) this.end(f);
  }
}
