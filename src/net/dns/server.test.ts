import { createSocket, type Socket } from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildAnswer, buildQuery, parseQuery, readAnswer, TYPE_AAAA } from './message.js';
import { DnsServer, hostUpstreams } from './server.js';

const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

async function udp(port = 0): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(port, '127.0.0.1', () => r()));
  closers.push(() => s.close());
  return s;
}

function ask(s: Socket, port: number, q: Buffer): Promise<ReturnType<typeof readAnswer>> {
  return new Promise((resolve) => {
    s.once('message', (m) => resolve(readAnswer(m)));
    s.send(q, port, '127.0.0.1');
  });
}

/** A fake upstream resolver: answers every A query with 192.0.2.1. */
async function fakeResolver(): Promise<{ port: number; seen: string[] }> {
  const s = await udp();
  const seen: string[] = [];
  s.on('message', (m, r) => {
    const q = parseQuery(m)!;
    seen.push(q.name);
    s.send(buildAnswer(m, q, ['192.0.2.1']), r.port, r.address);
  });
  return { port: s.address().port, seen };
}

describe('DnsServer', () => {
  it('answers its names, forwards dotted others, and fails over from a dead upstream', async () => {
    const up = await fakeResolver();
    const dead = await udp(); // never answers
    const names: Record<string, string[]> = { api: ['10.88.0.2'] };
    const srv = await DnsServer.start({
      address: '127.0.0.1',
      lookup: (n) => names[n],
      upstreams: [{ host: '127.0.0.1', port: dead.address().port }, { host: '127.0.0.1', port: up.port }],
      limits: { timeoutMs: 200 },
    });
    closers.push(() => srv.close());
    const c = await udp();
    expect(await ask(c, srv.port, buildQuery(11, 'API'))).toEqual({ id: 11, rcode: 0, ips: ['10.88.0.2'] });
    expect(await ask(c, srv.port, buildQuery(12, 'api', TYPE_AAAA))).toEqual({ id: 12, rcode: 0, ips: [] });
    expect(await ask(c, srv.port, buildQuery(13, 'example.org'))).toEqual({ id: 13, rcode: 0, ips: ['192.0.2.1'] });
    expect(await ask(c, srv.port, buildQuery(14, 'nosuch'))).toEqual({ id: 14, rcode: 3, ips: [] });
    expect(up.seen).toEqual(['example.org']); // single-label names never leave
  });

  it('forwards only for the clients `forwards` allows (an internal network: members on an open network too)', async () => {
    const up = await fakeResolver();
    let allowed = false;
    const srv = await DnsServer.start({ address: '127.0.0.1', lookup: () => undefined, upstreams: [{ host: '127.0.0.1', port: up.port }], forwards: (client) => client === '127.0.0.1' && allowed });
    closers.push(() => srv.close());
    const c = await udp();
    expect((await ask(c, srv.port, buildQuery(1, 'example.org'))).rcode).toBe(5);
    allowed = true;
    expect(await ask(c, srv.port, buildQuery(2, 'example.org'))).toEqual({ id: 2, rcode: 0, ips: ['192.0.2.1'] });
    expect(up.seen).toEqual(['example.org']);
  });

  it('refuses names it does not know when it has no upstream, and fails when upstreams stay silent', async () => {
    const c = await udp();
    const internal = await DnsServer.start({ address: '127.0.0.1', lookup: () => undefined, upstreams: [] });
    closers.push(() => internal.close());
    expect((await ask(c, internal.port, buildQuery(1, 'example.org'))).rcode).toBe(5);
    const dead = await udp();
    const srv = await DnsServer.start({ address: '127.0.0.1', lookup: () => undefined, upstreams: [{ host: '127.0.0.1', port: dead.address().port }], limits: { timeoutMs: 100 } });
    closers.push(() => srv.close());
    expect(await ask(c, srv.port, buildQuery(2, 'example.org'))).toEqual({ id: 2, rcode: 2, ips: [] });
  });

  it('answers and forwards over TCP too', async () => {
    // A fake upstream on TCP: answers every A query with 192.0.2.7.
    const up = net.createServer((c) => {
      c.on('data', (d: Buffer) => {
        const m = d.subarray(2);
        const a = buildAnswer(m, parseQuery(m)!, ['192.0.2.7']);
        c.write(Buffer.concat([Buffer.from([a.length >> 8, a.length & 255]), a]));
      });
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
    closers.push(() => up.close());
    const port = (up.address() as net.AddressInfo).port;
    const srv = await DnsServer.start({ address: '127.0.0.1', lookup: (n) => (n === 'api' ? ['10.88.0.2'] : undefined), upstreams: [{ host: '127.0.0.1', port }] });
    closers.push(() => srv.close());
    const askTcp = (q: Buffer) =>
      new Promise<ReturnType<typeof readAnswer>>((resolve) => {
        const c = net.connect(srv.port, '127.0.0.1', () => c.write(Buffer.concat([Buffer.from([q.length >> 8, q.length & 255]), q])));
        c.on('data', (d: Buffer) => (resolve(readAnswer(d.subarray(2))), c.destroy()));
      });
    expect(await askTcp(buildQuery(21, 'api'))).toEqual({ id: 21, rcode: 0, ips: ['10.88.0.2'] });
    expect(await askTcp(buildQuery(22, 'example.org'))).toEqual({ id: 22, rcode: 0, ips: ['192.0.2.7'] });
  });

  it('reads upstreams from the environment or resolv.conf', async () => {
    expect(await hostUpstreams('127.0.0.1:5353, 10.0.0.1', '/nonexistent')).toEqual([
      { host: '127.0.0.1', port: 5353 },
      { host: '10.0.0.1', port: 53 },
    ]);
    const list = await hostUpstreams(undefined, '/etc/resolv.conf');
    expect(Array.isArray(list)).toBe(true);
  });
});
