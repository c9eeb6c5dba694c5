import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shortId } from '../../src/core/ids.js';
import { run } from '../../src/sys/run.js';
import { REPO, TestDaemon, waitFor } from '../helpers/hull.js';
import { netAttack } from '../helpers/net-attack.js';

/**
 * What a hostile container or VM can send onto its network, sent for real
 * from inside one (net-attack.c, built static here): IPv6 router
 * advertisements (the host must take nothing from them) and floods and
 * forgeries at the network's name server (the daemon must stay responsive).
 * Traffic goes only to this test's own bridges and to "upstream resolvers"
 * that are silent sockets on loopback (HULL_DNS_UPSTREAM), so forwarded
 * queries stay pending as long as the daemon lets them.
 */
process.env.HULL_VM_ACCEL = 'tcg';
const guestBuilt = existsSync(join(REPO, 'build', 'guest', 'guest.json'));
const RA_SUBNET = '10.231.90.0/24';
const RA_GATEWAY = '10.231.90.1';
const FLOOD_SUBNET = '10.231.91.0/24';
const FLOOD_GATEWAY = '10.231.91.1';

let d: TestDaemon;
let attack: string;
const silent: Socket[] = [];

beforeAll(async () => {
  for (let i = 0; i < 3; i++) {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    silent.push(s);
  }
  process.env.HULL_DNS_UPSTREAM = silent.map((s) => `127.0.0.1:${s.address().port}`).join(',');
  attack = await netAttack();
  d = await TestDaemon.start();
}, 120_000);

afterAll(async () => {
  await d?.destroy();
  delete process.env.HULL_DNS_UPSTREAM;
  for (const s of silent) s.close();
}, 120_000);

/** Containers get CAP_NET_RAW back with --cap-add where Hull drops it by default. */
async function netRaw(): Promise<string[]> {
  return (await d.ok(['run', '--help'])).includes('--cap-add') ? ['--cap-add', 'NET_RAW'] : [];
}

const bridgeOf = async (net: string) => JSON.parse(await d.ok(['network', 'inspect', net]))[0].bridge as string;
/** The IPv6 settings Hull sets on its host-side interfaces. */
const DEAF = { disable_ipv6: '1', accept_ra: '0', autoconf: '0', accept_redirects: '0' };
const deafness = async (ifname: string) =>
  Object.fromEntries(await Promise.all(Object.keys(DEAF).map(async (k) => [k, (await readFile(`/proc/sys/net/ipv6/conf/${ifname}/${k}`, 'utf8')).trim()])));

/**
 * The host's IPv6 state on these interfaces: addresses, and routes through
 * them or for the advertised prefix (whatever interface), default routes included.
 */
async function ipv6State(ifnames: string[]) {
  const addrs = JSON.parse((await run(['ip', '-j', '-6', 'addr', 'show'])).stdout) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>;
  const routes = JSON.parse((await run(['ip', '-j', '-6', 'route', 'show', 'table', 'all'])).stdout) as Array<{ dst: string; dev?: string; gateway?: string }>;
  return {
    addresses: addrs.flatMap((l) => l.addr_info.filter((a) => ifnames.includes(l.ifname) || a.local.startsWith('2001:db8:dead:')).map((a) => `${a.local}/${a.prefixlen} dev ${l.ifname}`)),
    routes: routes.filter((r) => ifnames.includes(r.dev ?? '') || r.dst.startsWith('2001:db8:dead:')).map((r) => `${r.dst} ${r.gateway ? `via ${r.gateway} ` : ''}dev ${r.dev}`),
  };
}

/** Send router advertisements with `exec` (…, the interface, seconds), and see the host unchanged on these interfaces. */
async function raChangesNothing(exec: string[], ifnames: string[]): Promise<void> {
  const before = await ipv6State(ifnames);
  const out = await d.ok([...exec, 'ra', 'eth0', '3'], { timeoutMs: 60_000 });
  expect(out).toMatch(/^sent [1-9]\d*$/m); // they did go out
  await new Promise((r) => setTimeout(r, 500));
  const after = await ipv6State(ifnames);
  expect(after).toEqual(before);
  expect(after.routes.filter((r) => r.startsWith('default'))).toEqual([]);
  expect(after.addresses).toEqual([]); // deaf: not even a link-local address on Hull's interfaces
}

describe('IPv6 router advertisements from instances (CVE-2020-13401)', () => {
  beforeAll(async () => {
    await d.ok(['network', 'create', 'ranet', '--subnet', RA_SUBNET]);
    // A neighbour on the same network: its own IPv6 is on (the kernel's defaults), so it could take an RA.
    await d.ok(['run', '-d', '--name', 'ra-peer', '--network', 'ranet', 'busybox', 'sleep', '300']);
    await waitFor(async () => (await d.ok(['exec', 'ra-peer', 'ip', '-6', 'addr', 'show', 'dev', 'eth0'])).includes('fe80::'));
  });

  /** The neighbour took no address, route or default router from the advertisements. */
  const peerUntouched = async () => {
    expect(await d.ok(['exec', 'ra-peer', 'ip', '-6', 'addr'])).not.toContain('2001:db8:dead');
    expect(await d.ok(['exec', 'ra-peer', 'ip', '-6', 'route'])).not.toMatch(/dead|default/);
  };

  it('a container sending RAs gives the host and its neighbours no address and no route; bridge and veth are deaf to IPv6', async () => {
    const id = (await d.ok(['run', '-d', '--name', 'ra-c', '--network', 'ranet', ...(await netRaw()), 'busybox', 'sleep', '300'])).trim();
    const bridge = await bridgeOf('ranet');
    const veth = `hv${shortId(id)}0`;
    await d.ok(['cp', attack, 'ra-c:/net-attack']);
    await raChangesNothing(['exec', 'ra-c', '/net-attack'], [bridge, veth]);
    await peerUntouched();
    for (const ifname of [bridge, veth]) expect(await deafness(ifname)).toEqual(DEAF);
    await d.ok(['rm', '-f', 'ra-c']);
  });

  it.skipIf(!guestBuilt)('a VM sending RAs gives the host and its neighbours no address and no route; its tap is deaf to IPv6', async () => {
    const id = (await d.ok(['vm', 'create', '--name', 'ra-vm', '--network', 'ranet', '--memory', '256m'])).trim();
    await d.ok(['vm', 'start', 'ra-vm']);
    await waitFor(async () => (await d.hull(['vm', 'exec', 'ra-vm', '--', 'true'])).code === 0, 90_000, 500);
    const bridge = await bridgeOf('ranet');
    const tap = `ht${shortId(id)}0`;
    // The guest fetches the program from the host's address on the bridge (the agent's stdin is slow for 700 KB).
    const server = http.createServer((_req, res) => void readFile(attack).then((b) => res.end(b)));
    await new Promise<void>((r) => server.listen(0, RA_GATEWAY, () => r()));
    try {
      const url = `http://${RA_GATEWAY}:${(server.address() as AddressInfo).port}/net-attack`;
      await d.ok(['vm', 'exec', 'ra-vm', '--', 'sh', '-c', `timeout 60 wget -q -O /tmp/net-attack ${url} && chmod +x /tmp/net-attack`], { timeoutMs: 90_000 });
    } finally {
      server.close();
    }
    await raChangesNothing(['vm', 'exec', 'ra-vm', '--', '/tmp/net-attack'], [bridge, tap]);
    await peerUntouched();
    expect(await deafness(tap)).toEqual(DEAF);
    await d.ok(['vm', 'rm', '-f', 'ra-vm'], { timeoutMs: 60_000 });
  }, 240_000);
});

/** How long the API takes to answer GET /_ping, in ms (5 s: no answer, counted as 5000). */
function pingMs(): Promise<number> {
  const t = Date.now();
  return new Promise((resolve) => {
    const req = http.get({ socketPath: d.socket, path: '/_ping', timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(Date.now() - t));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(5000));
  });
}

describe('a hostile container: its name server, the host behind its bridge', () => {
  let flooderIp = '';
  beforeAll(async () => {
    await d.ok(['network', 'create', 'floodnet', '--subnet', FLOOD_SUBNET]);
    await d.ok(['run', '-d', '--name', 'flooder', '--network', 'floodnet', ...(await netRaw()), 'busybox', 'sleep', '300']);
    await d.ok(['run', '-d', '--name', 'victim', '--network', 'floodnet', 'busybox', 'sleep', '300']);
    flooderIp = JSON.parse(await d.ok(['inspect', 'flooder']))[0].config.networks[0].ipAddress as string;
    await d.ok(['cp', attack, 'flooder:/net-attack']);
  });

  it('a flood of slow lookups leaves the API answering and other containers resolving', async () => {
    let forwarded = 0; // what reaches the first upstream: every forward tries it first
    silent[0].on('message', () => forwarded++);
    // 70,000 lookups of names only the (silent) upstreams could answer, in 4 s: more than there are query ids.
    const flood = d.ok(['exec', 'flooder', '/net-attack', 'flood', FLOOD_GATEWAY, '53', '70000', '4'], { timeoutMs: 30_000 });
    const pings: number[] = [];
    const lookups: string[] = [];
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      pings.push(await pingMs());
      if (lookups.length < 2) lookups.push(await d.ok(['exec', 'victim', 'nslookup', 'flooder'], { timeoutMs: 20_000 }));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await flood).toMatch(/^sent 70000 in/);
    // One client holds at most 256 forwards, and these wait 3 × 2 s: no more than 256 went upstream in the 4 s.
    expect(forwarded).toBeGreaterThan(0);
    expect(forwarded).toBeLessThanOrEqual(256);
    expect(Math.max(...pings)).toBeLessThan(1000); // usually a few ms; a daemon stuck in a loop never answers
    for (const l of lookups) expect(l).toContain(flooderIp);
    // And afterwards the flooder itself is served again.
    expect(await d.ok(['exec', 'flooder', 'nslookup', 'victim'])).toMatch(/Address:\s+10\.231\.91\.\d+/);
  }, 120_000);

  it('a query forged from source port 0 does not take the daemon down', async () => {
    const r = await d.hull(['exec', 'flooder', '/net-attack', 'port0', FLOOD_GATEWAY, '53', 'victim']);
    await new Promise((res) => setTimeout(res, 300));
    expect(d.proc?.exitCode).toBeNull();
    expect(r.stdout).toContain('sent 1'); // the packet went out (the container has CAP_NET_RAW)
    expect(await pingMs()).toBeLessThan(1000);
    expect(await d.ok(['exec', 'victim', 'nslookup', 'flooder'])).toContain(flooderIp);
  });

  it("a container cannot reach the host's loopback services through its bridge (CVE-2020-8558)", async () => {
    const mac = (await readFile(`/sys/class/net/${await bridgeOf('floodnet')}/address`, 'utf8')).trim();
    const got: string[] = [];
    const listen = async (address: string) => {
      const s = createSocket('udp4');
      s.on('message', (m) => got.push(m.toString()));
      await new Promise<void>((r) => s.bind(0, address, () => r()));
      return s;
    };
    const atGateway = await listen(FLOOD_GATEWAY);
    const atLoopback = await listen('127.0.0.1');
    try {
      const frame = (src: string, dst: string, port: number, msg: string) => d.ok(['exec', 'flooder', '/net-attack', 'frame', 'eth0', mac, src, dst, String(port), msg]);
      // The way in works: a hand-made frame to the gateway's address arrives.
      await frame(flooderIp, FLOOD_GATEWAY, atGateway.address().port, 'to-gateway');
      await waitFor(async () => got.includes('to-gateway'), 5000, 50);
      // To 127.0.0.1, from the container's address (the reply would come back) or forged from 127.0.0.1: dropped.
      await frame(flooderIp, '127.0.0.1', atLoopback.address().port, 'to-loopback');
      await frame('127.0.0.1', '127.0.0.1', atLoopback.address().port, 'to-loopback-forged');
      await new Promise((r) => setTimeout(r, 500));
      expect(got).toEqual(['to-gateway']);
    } finally {
      atGateway.close();
      atLoopback.close();
    }
  });
});
