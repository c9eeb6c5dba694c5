import net from 'node:net';
import { RCODE, buildAnswer, parseQuery } from './message.js';
import { Counts, type DnsLimits } from './limits.js';
import type { Upstream } from './forwarder.js';

/** Largest DNS message (the two-byte length's reach), and what one connection may buffer unread. */
const MAX_MESSAGE = 0xffff;
const MAX_BUFFERED = 2 * (2 + MAX_MESSAGE);

const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);

/** Until the client has read what was written (or left). */
function drained(c: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => (c.off('drain', done), c.off('close', done), resolve());
    c.on('drain', done);
    c.on('close', done);
  });
}

/** An answer for one message (read from a client of this address), or undefined to send nothing. */
export type TcpAnswerer = (msg: Buffer, client: string) => Promise<Buffer | undefined>;

/**
 * DNS over TCP (RFC 7766: a two-byte length, then the message), bounded:
 * at most `clientTcp` connections per client address and `serverTcp` in all
 * (more are closed at once), one message at a time per connection (reading
 * stops while one is answered, or while the client does not read its
 * answers), and a connection idle for `tcpIdleMs` is closed.
 */
export class TcpServing {
  private perClient = new Counts();
  private open = new Set<net.Socket>();

  constructor(
    private limits: Pick<DnsLimits, 'clientTcp' | 'serverTcp' | 'tcpIdleMs'>,
    private answer: TcpAnswerer,
  ) {}

  accept(c: net.Socket): void {
    const client = c.remoteAddress?.replace(/^::ffff:/, '') ?? '';
    c.on('error', () => undefined);
    if (this.open.size >= this.limits.serverTcp || this.perClient.get(client) >= this.limits.clientTcp) return void c.destroy();
    this.open.add(c);
    this.perClient.add(client, 1);
    c.once('close', () => {
      this.open.delete(c);
      this.perClient.add(client, -1);
    });
    c.setTimeout(this.limits.tcpIdleMs, () => c.destroy());
    this.serve(c, client);
  }

  private serve(c: net.Socket, client: string): void {
    let buf = Buffer.alloc(0);
    let busy = false;
    const pump = async () => {
      if (busy) return;
      busy = true;
      c.pause();
      while (!c.destroyed && buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const out = await this.answer(Buffer.from(msg), client).catch(() => undefined);
        if (out?.length && !c.destroyed && !c.write(Buffer.concat([u16(out.length), out]))) await drained(c);
      }
      busy = false;
      if (!c.destroyed) c.resume();
    };
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > MAX_BUFFERED) return void c.destroy();
      void pump();
    });
  }

  close(): void {
    for (const c of this.open) c.destroy();
  }
}

/** One query over TCP to each upstream in turn (the answer must carry the query's id); SERVFAIL when none answers. */
export async function forwardTcp(msg: Buffer, upstreams: Upstream[], timeoutMs: number): Promise<Buffer | undefined> {
  for (const up of upstreams) {
    const r = await askTcp(msg, up, timeoutMs);
    if (r && r.length >= 12 && r.readUInt16BE(0) === msg.readUInt16BE(0)) return r;
  }
  const q = parseQuery(msg);
  return q ? buildAnswer(msg, q, [], RCODE.servFail) : undefined;
}

function askTcp(msg: Buffer, up: Upstream, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const c = net.connect({ host: up.host, port: up.port });
    let buf = Buffer.alloc(0);
    const done = (v: Buffer | undefined) => (c.destroy(), clearTimeout(t), resolve(v));
    // The whole exchange, not just idleness: an upstream trickling bytes must not hold the client.
    const t = setTimeout(() => done(undefined), timeoutMs);
    c.on('error', () => done(undefined));
    c.on('close', () => done(undefined));
    c.on('connect', () => c.write(Buffer.concat([u16(msg.length), msg])));
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0))));
    });
  });
}
