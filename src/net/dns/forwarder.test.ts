import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildAnswer, buildQuery, parseQuery, readAnswer, RCODE } from './message.js';
import { DnsServer } from './server.js';

/**
 * The name server against clients and upstreams that misbehave: forged
 * answers, floods, junk, connections held open. Real sockets on loopback
 * (127.0.0.0/8 is all local on Linux, so 127.0.0.2 is "another address").
 */
const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

async function udp(address = '127.0.0.1', port = 0): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(port, address, () => r()));
  closers.push(() => s.close());
  return s;
}

/** The next answer to `s`, or undefined after `ms`. */
function next(s: Socket, ms = 1000): Promise<ReturnType<typeof readAnswer> | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => (s.off('message', on), resolve(undefined)), ms);
    const on = (m: Buffer) => (clearTimeout(t), resolve(readAnswer(m)));
    s.once('message', on);
  });
}

async function ask(s: Socket, port: number, q: Buffer, ms = 1000) {
  const a = next(s, ms);
  s.send(q, port, '127.0.0.1');
  return a;
}

/** An upstream that never answers by itself; `seen` gets each query and where it came from. */
async function silentUpstream() {
  const s = await udp();
  const seen: Array<{ m: Buffer; r: RemoteInfo }> = [];
  const waiters: Array<() => void> = [];
  s.on('message', (m, r) => (seen.push({ m, r }), waiters.splice(0).forEach((w) => w())));
  const nth = async (n: number) => {
    while (seen.length < n) await new Promise<void>((r) => waiters.push(r));
    return seen[n - 1];
  };
  return { s, port: s.address().port, seen, nth };
}

const answerTo = (m: Buffer, ip: string) => buildAnswer(m, parseQuery(m)!, [ip]);

describe('DnsServer forwarding, under attack', () => {
  it('believes only the upstream: forged answers from another port or address, or for another question, are dropped', async () => {
    const up = await silentUpstream();
    const srv = await DnsServer.start({ address: '127.0.0.1', lookup: () => undefined, upstreams: [{ host: '127.0.0.1', port: up.port }], limits: { timeoutMs: 3000 } });
    closers.push(() => srv.close());
    const c = await udp();
    const answer = ask(c, srv.port, buildQuery(7, 'bank.example'), 3000);
    const { m, r } = await up.nth(1);
    // The forger knows the forward's port and id (it saw the query) and answers first:
    const otherPort = await udp('127.0.0.1');
    const otherAddr = await udp('127.0.0.2', up.port); // the upstream's port, another address
    otherPort.send(answerTo(m, '203.0.113.66'), r.port, r.address);
    otherAddr.send(answerTo(m, '203.0.113.67'), r.port, r.address);
    // The upstream's own socket, but an answer for another name under the same id:
    const wrongQuestion = buildAnswer(buildQuery(m.readUInt16BE(0), 'other.example'), parseQuery(buildQuery(m.readUInt16BE(0), 'other.example'))!, ['203.0.113.68']);
    up.s.send(wrongQuestion, r.port, r.address);
    await new Promise((res) => setTimeout(res, 200));
    up.s.send(answerTo(m, '192.0.2.10'), r.port, r.address);
    expect(await answer).toEqual({ id: 7, rcode: 0, ips: ['192.0.2.10'] });
    expect(srv.pendingForwards).toBe(0);
  });

  it('sends each forward from a port of its own with a random id', async () => {
    const up = await silentUpstream();
    const srv = await DnsServer.start({ address: '127.0.0.1', lookup: () => undefined, upstreams: [{ host: '127.0.0.1', port: up.port }] });
    closers.push(() => srv.close());
    const c = await udp();
    for (let i = 0; i < 20; i++) c.send(buildQuery(1, `n${i}.example`), srv.port, '127.0.0.1');
    await up.nth(20);
    expect(new Set(up.seen.map((x) => x.r.port)).size).toBe(20);
    // 20 ids drawn from 65536: all equal (or counting up from the client's) would be no randomness.
    const ids = up.seen.map((x) => x.m.readUInt16BE(0));
    expect(new Set(ids).size).toBeGreaterThan(15);
    expect(ids.every((id, i) => i === 0 || id !== ids[i - 1] + 1)).toBe(true);
  });

  it('bounds the forwards one client, and all clients, may have waiting: REFUSED beyond, and room again after the timeout', async () => {
    const up = await silentUpstream();
    const srv = await DnsServer.start({
      address: '127.0.0.1',
      lookup: (n) => (n === 'api' ? ['10.88.0.2'] : undefined),
      upstreams: [{ host: '127.0.0.1', port: up.port }],
      limits: { clientPending: 5, serverPending: 8, timeoutMs: 400 },
    });
    closers.push(() => srv.close());
    const a = await udp('127.0.0.1');
    const b = await udp('127.0.0.2');
    const refusedA: number[] = [];
    a.on('message', (m) => refusedA.push(readAnswer(m).rcode));
    for (let i = 0; i < 12; i++) a.send(buildQuery(i, `a${i}.example`), srv.port, '127.0.0.1');
    await up.nth(5);
    await new Promise((r) => setTimeout(r, 100));
    expect(srv.pendingForwards).toBe(5);
    expect(refusedA).toEqual(Array(7).fill(RCODE.refused));
    // Another client still gets forwards, up to the server's total; its names are answered whatever the load.
    for (let i = 0; i < 4; i++) b.send(buildQuery(100 + i, `b${i}.example`), srv.port, '127.0.0.1');
    await up.nth(8);
    await new Promise((r) => setTimeout(r, 100));
    expect(srv.pendingForwards).toBe(8);
    a.removeAllListeners('message');
    b.removeAllListeners('message');
    expect(await ask(b, srv.port, buildQuery(200, 'api'))).toEqual({ id: 200, rcode: 0, ips: ['10.88.0.2'] });
    expect(await ask(b, srv.port, buildQuery(201, 'b9.example'))).toMatchObject({ id: 201, rcode: RCODE.refused });
    // The waiting forwards time out (SERVFAIL to their clients) and make room.
    await new Promise((r) => setTimeout(r, 600));
    expect(srv.pendingForwards).toBe(0);
  });

  it("bounds the forwards of all the process's name servers together (each holds a socket)", async () => {
    const up = await silentUpstream();
    const start = () =>
      DnsServer.start({ address: '127.0.0.1', lookup: () => undefined, upstreams: [{ host: '127.0.0.1', port: up.port }], limits: { processPending: 3, timeoutMs: 5000 } });
    const [s1, s2] = [await start(), await start()];
    closers.push(() => s1.close(), () => s2.close());
    const c = await udp();
    for (let i = 0; i < 2; i++) c.send(buildQuery(i, `x${i}.example`), s1.port, '127.0.0.1');
    await up.nth(2);
    c.send(buildQuery(2, 'x2.example'), s2.port, '127.0.0.1');
    await up.nth(3);
    expect(await ask(c, s2.port, buildQuery(3, 'x3.example'))).toMatchObject({ id: 3, rcode: RCODE.refused });
    expect(s1.pendingForwards + s2.pendingForwards).toBe(3);
  });

  it('stays responsive through a flood of 70,000 forwarded queries (more than there are query ids)', async () => {
    // Three upstreams that never answer: a forward waits for all three in turn.
    const ups = [await silentUpstream(), await silentUpstream(), await silentUpstream()];
    const srv = await DnsServer.start({
      address: '127.0.0.1',
      lookup: (n) => (n === 'api' ? ['10.88.0.2'] : undefined),
      upstreams: ups.map((u) => ({ host: '127.0.0.1', port: u.port })),
      limits: { timeoutMs: 10_000, clientRate: 1e9, serverRate: 1e9 },
    });
    closers.push(() => srv.close());
    const flooders = await Promise.all(['127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'].map((a) => udp(a)));
    let refused = 0;
    for (const f of flooders) f.on('message', (m) => readAnswer(m).rcode === RCODE.refused && refused++);
    const q = buildQuery(1, 'flood.example');
    // Paced by what the server has dealt with (forwarded or refused): the kernel drops what overflows its buffer.
    const deadline = Date.now() + 20_000;
    for (let sent = 0; ups[0].seen.length + refused < 70_000 && Date.now() < deadline; sent++) {
      flooders[sent % 4].send(q, srv.port, '127.0.0.1');
      if (sent % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    expect(ups[0].seen.length + refused).toBeGreaterThanOrEqual(70_000);
    expect(ups[0].seen.length).toBe(1024); // the server's cap: 4 clients × 256
    const c = await udp('127.0.0.7');
    expect(await ask(c, srv.port, buildQuery(3, 'api'))).toEqual({ id: 3, rcode: 0, ips: ['10.88.0.2'] });
  });

  it('answers only clients of its network, and survives junk', async () => {
    const srv = await DnsServer.start({ address: '127.0.0.1', clients: '127.0.0.0/30', lookup: () => ['10.88.0.9'], upstreams: [] });
    closers.push(() => srv.close());
    const inside = await udp('127.0.0.2');
    const junkSender = await udp('127.0.0.3');
    const outside = await udp('127.0.0.9');
    expect(await ask(outside, srv.port, buildQuery(1, 'api'), 300)).toBeUndefined();
    for (const junk of [Buffer.alloc(0), Buffer.from([1]), Buffer.alloc(11, 0xff), Buffer.alloc(12), Buffer.alloc(60_000, 0x3f), buildAnswer(buildQuery(5, 'x'), parseQuery(buildQuery(5, 'x'))!, [])]) {
      junkSender.send(junk, srv.port, '127.0.0.1');
    }
    // A query-shaped header with an unreadable question: FORMERR; then a good one is answered.
    const bad = Buffer.concat([buildQuery(9, 'api').subarray(0, 12), Buffer.from([200, 1, 2])]);
    expect(await ask(inside, srv.port, bad)).toMatchObject({ id: 9, rcode: RCODE.formErr });
    expect(await ask(inside, srv.port, buildQuery(10, 'api'))).toEqual({ id: 10, rcode: 0, ips: ['10.88.0.9'] });
    // TCP from outside the network is closed unanswered.
    const closed = await new Promise<boolean>((resolve) => {
      const c = net.connect({ port: srv.port, host: '127.0.0.1', localAddress: '127.0.0.9' });
      c.on('data', () => resolve(false));
      c.on('close', () => resolve(true));
      c.on('error', () => undefined);
      c.on('connect', () => c.write(Buffer.concat([Buffer.from([0, 17]), buildQuery(1, 'api')])));
    });
    expect(closed).toBe(true);
  });

  it('holds at most clientTcp connections per client over TCP, and answers queries sent together in turn', async () => {
    const srv = await DnsServer.start({ address: '127.0.0.1', lookup: (n) => [n === 'a' ? '10.0.0.1' : '10.0.0.2'], upstreams: [], limits: { clientTcp: 2 } });
    closers.push(() => srv.close());
    const open = () =>
      new Promise<net.Socket>((resolve) => {
        const c = net.connect(srv.port, '127.0.0.1', () => resolve(c));
        c.on('error', () => undefined);
        closers.push(() => c.destroy());
      });
    const framed = (q: Buffer) => Buffer.concat([Buffer.from([q.length >> 8, q.length & 255]), q]);
    const c1 = await open();
    await open();
    const c3 = await open();
    expect(await new Promise((r) => c3.on('close', () => r('closed')))).toBe('closed');
    const got: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const two = new Promise<void>((resolve) =>
      c1.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          got.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
        if (got.length === 2) resolve();
      }),
    );
    c1.write(Buffer.concat([framed(buildQuery(1, 'a')), framed(buildQuery(2, 'b'))]));
    await two;
    expect(got.map(readAnswer)).toEqual([
      { id: 1, rcode: 0, ips: ['10.0.0.1'] },
      { id: 2, rcode: 0, ips: ['10.0.0.2'] },
    ]);
  });
});
