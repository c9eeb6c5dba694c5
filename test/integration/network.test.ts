import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTarsLayout } from '../../src/image/oci-layout-writer.js';
import { buildAnswer, parseQuery } from '../../src/net/dns/message.js';
import { scopeNames } from '../../src/net/networks.js';
import { run } from '../../src/sys/run.js';
import { REPO, TestDaemon, waitFor } from '../helpers/hull.js';
import { busyboxTar } from '../helpers/image-fixtures.js';

/**
 * Networks with real namespaces, bridges and nftables. Traffic only ever
 * goes between this test's own namespaces and the host's loopback and bridge
 * addresses; the one "outside" name is answered by a fake resolver on
 * loopback that the daemon forwards to (HULL_DNS_UPSTREAM).
 */
let d: TestDaemon;
let names: { table: string; netnsPrefix: string };
let resolver: Socket;
let port53: Socket | undefined;
const PORT = 20000 + Math.floor(Math.random() * 5000);
const UDP_PORT = PORT + 1;
const SUBNET = '10.231.7.0/24';
const GATEWAY = '10.231.7.1';

beforeAll(async () => {
  resolver = createSocket('udp4');
  resolver.on('message', (m, r) => {
    const q = parseQuery(m);
    if (q) resolver.send(buildAnswer(m, q, q.name === 'outside.test' ? ['192.0.2.44'] : [], q.name === 'outside.test' ? 0 : 3), r.port, r.address);
  });
  await new Promise<void>((r) => resolver.bind(0, '127.0.0.1', () => r()));
  // Hold the host's port 53 if nothing else does: the networks' name servers must not need it.
  port53 = await new Promise<Socket | undefined>((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(undefined));
    s.bind(53, '0.0.0.0', () => resolve(s));
  });
  process.env.HULL_DNS_UPSTREAM = `127.0.0.1:${resolver.address().port}`;
  d = await TestDaemon.start();
  names = scopeNames(d.root, false);
});

afterAll(async () => {
  await d?.destroy();
  delete process.env.HULL_DNS_UPSTREAM;
  resolver?.close();
  port53?.close();
});

const inspect = async (ref: string) => JSON.parse(await d.ok(['inspect', ref]))[0];
const ipOf = async (ref: string, i = 0) => (await inspect(ref)).config.networks[i].ipAddress as string;
const ourNetns = async () => (await readdir('/run/netns').catch(() => [] as string[])).filter((n) => n.startsWith(names.netnsPrefix));
const links = async () => (JSON.parse((await run(['ip', '-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>).map((l) => l.ifname);
/** Interfaces plugged into these bridges (other daemons on this machine have veths of their own). */
const ports = async (bridges: string[]) =>
  (JSON.parse((await run(['ip', '-j', 'link', 'show'])).stdout) as Array<{ ifname: string; master?: string }>).filter((l) => l.master && bridges.includes(l.master)).map((l) => l.ifname);
/** Interfaces with an IPv4 address starting so: the bridges of this test's networks. */
const withAddressIn = async (prefix: string) =>
  (JSON.parse((await run(['ip', '-j', '-4', 'addr', 'show'])).stdout) as Array<{ ifname: string; addr_info: Array<{ local: string }> }>)
    .filter((l) => l.addr_info.some((a) => a.local.startsWith(prefix)))
    .map((l) => l.ifname)
    .sort();
const table = async () => (await run(['nft', 'list', 'table', 'inet', names.table], { allowFailure: true })).stdout;
const netInspect = async (ref: string) => JSON.parse(await d.ok(['network', 'inspect', ref]))[0];

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
  });
}

describe('networks', () => {
  it('containers reach each other by name and alias; other names go to the host resolvers', async () => {
    await d.ok(['network', 'create', 'appnet', '--subnet', SUBNET]);
    await d.ok(['run', '-d', '--name', 'api', '--network', 'appnet', '--network-alias', 'web', '-p', `${PORT}:80`, 'busybox', 'sh', '-c', 'echo hello-from-api > /tmp/index.html; exec httpd -f -p 80 -h /tmp']);
    const client = ['run', '--rm', '--network', 'appnet', 'busybox'];
    expect(await d.ok([...client, 'wget', '-qO-', 'http://api/'])).toBe('hello-from-api\n');
    expect(await d.ok([...client, 'wget', '-qO-', 'http://web/'])).toBe('hello-from-api\n');
    expect(await d.ok([...client, 'nslookup', 'outside.test'])).toContain('192.0.2.44');
    expect(await d.ok([...client, 'cat', '/etc/resolv.conf'])).toContain(`nameserver ${GATEWAY}`);
    const files = await d.ok(['run', '--rm', '--network', 'appnet', '--name', 'me', '--hostname', 'box1', 'busybox', 'sh', '-c', 'cat /etc/hostname /etc/hosts']);
    expect(files).toMatch(/^box1\n/);
    expect(files).toMatch(/10\.231\.7\.\d+\tbox1 me/);
  });

  it('a published TCP port is reached from the host via 127.0.0.1 and via the bridge address', async () => {
    expect(await get(`http://127.0.0.1:${PORT}/`)).toBe('hello-from-api\n');
    expect(await get(`http://${GATEWAY}:${PORT}/`)).toBe('hello-from-api\n');
    expect(await d.ok(['ps'])).toContain(`0.0.0.0:${PORT}->80/tcp`);
    const api = await inspect('api');
    expect(api.config.networks[0]).toMatchObject({ network: 'appnet', ifName: 'eth0', gateway: GATEWAY, aliases: ['web'] });
    expect(api.config.ports).toEqual([{ hostIp: '', hostPort: PORT, containerPort: 80, protocol: 'tcp' }]);
  });

  it('a published UDP port reaches a server in the container', async () => {
    const id = (await d.ok(['run', '-d', '--name', 'udp', '-p', `127.0.0.1:${UDP_PORT}:5353/udp`, 'busybox', 'sleep', '300'])).trim();
    // busybox has no UDP server: a node echo server runs in the container's network namespace.
    const echo: ChildProcess = spawn('ip', ['netns', 'exec', `${names.netnsPrefix}${id.slice(0, 12)}`, process.execPath, '-e',
      "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('echo:'+m,r.port,r.address));s.bind(5353,()=>console.log('up'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((r) => echo.stdout!.once('data', r));
      const c = createSocket('udp4');
      const reply = await new Promise<string>((resolve, reject) => {
        const t = setInterval(() => c.send('ping', UDP_PORT, '127.0.0.1'), 300);
        c.once('message', (m) => (clearInterval(t), resolve(m.toString())));
        setTimeout(() => (clearInterval(t), reject(new Error('no UDP reply'))), 5000);
        c.send('ping', UDP_PORT, '127.0.0.1');
      });
      c.close();
      expect(reply).toBe('echo:ping');
    } finally {
      echo.kill('SIGKILL');
    }
    await d.ok(['rm', '-f', 'udp']);
    expect(await table()).not.toContain(`dport ${UDP_PORT}`);
  });

  it('a UDP client that kept sending reaches each new container on the port (conntrack entries forgotten)', async () => {
    const port = UDP_PORT + 1;
    // A UDP echo in a container's network namespace, answering with a tag.
    const echoIn = async (name: string) => {
      const id = (await d.ok(['run', '-d', '--name', name, '-p', `127.0.0.1:${port}:5353/udp`, 'busybox', 'sleep', '300'])).trim();
      const p: ChildProcess = spawn('ip', ['netns', 'exec', `${names.netnsPrefix}${id.slice(0, 12)}`, process.execPath, '-e',
        `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('${name}:'+m,r.port,r.address));s.bind(5353,()=>console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((r) => p.stdout!.once('data', r));
      return p;
    };
    // One client socket (one source port) sending all along, from before any container has the port.
    const c = createSocket('udp4');
    c.on('error', () => undefined); // port unreachable while nobody listens
    const replies: string[] = [];
    c.on('message', (m) => replies.push(m.toString()));
    const t = setInterval(() => c.send('ping', port, '127.0.0.1'), 100);
    const answered = (tag: string) => waitFor(async () => replies.some((r) => r === `${tag}:ping`), 8000, 100);
    let echo: ChildProcess | undefined;
    try {
      await new Promise((r) => setTimeout(r, 500));
      echo = await echoIn('udpa');
      await answered('udpa');
      echo.kill('SIGKILL');
      await d.ok(['rm', '-f', 'udpa']);
      echo = await echoIn('udpb');
      await answered('udpb');
    } finally {
      clearInterval(t);
      c.close();
      echo?.kill('SIGKILL');
      await d.hull(['rm', '-f', 'udpa', 'udpb']);
    }
  });

  it('a published port is held on the host while its container runs: no other program can listen there', async () => {
    const port = UDP_PORT + 2;
    const listen = (p: number) =>
      new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
        const srv = http.createServer();
        srv.once('error', (e) => resolve(e));
        srv.listen(p, '127.0.0.1', () => srv.close(() => resolve(undefined)));
      });
    await d.ok(['run', '-d', '--name', 'held', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', 'echo held >/tmp/index.html; exec httpd -f -p 80 -h /tmp']);
    expect((await listen(port))?.code).toBe('EADDRINUSE');
    expect(await get(`http://127.0.0.1:${port}/`)).toBe('held\n'); // the DNAT rule still takes the traffic
    await d.ok(['stop', '-t', '1', 'held']);
    expect(await listen(port)).toBeUndefined(); // let go while it is stopped
    // A program that took the port meanwhile makes the start fail, clearly.
    const squatter = http.createServer();
    await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', () => r()));
    const refused = await d.hull(['start', 'held']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/in use on the host by another program/);
    await new Promise((r) => squatter.close(r));
    await d.ok(['start', 'held']);
    expect((await listen(port))?.code).toBe('EADDRINUSE');
    await d.ok(['rm', '-f', 'held']);
    expect(await listen(port)).toBeUndefined();
  });

  it('two networks cannot reach each other unless an instance joins both', async () => {
    await d.ok(['network', 'create', 'othernet', '--subnet', '10.231.8.0/24']);
    const apiIp = await ipOf('api');
    const other = ['run', '--rm', '--network', 'othernet', 'busybox'];
    // sh stays PID 1, so timeout can stop wget (PID 1 ignores signals it has no handler for).
    expect(await d.ok([...other, 'sh', '-c', `timeout 2 wget -qO- http://${apiIp}/; echo rc=$?`])).not.toContain('rc=0');
    expect((await d.hull([...other, 'nslookup', 'api'])).code).not.toBe(0);
    // ...but a published port on the host is for everyone.
    expect(await d.ok([...other, 'wget', '-qO-', `http://10.231.8.1:${PORT}/`])).toBe('hello-from-api\n');
    expect(await d.ok(['run', '--rm', '--network', 'othernet', '--network', 'appnet', 'busybox', 'wget', '-qO-', 'http://api/'])).toBe('hello-from-api\n');
    // On two networks, the names and aliases of both resolve through the first one's server (resolv.conf names one).
    // far is on both; its alias only on othernet, which answers with its othernet address.
    await d.ok(['run', '-d', '--name', 'far', '--network', 'appnet', 'busybox', 'sleep', '300']);
    await d.ok(['network', 'connect', '--alias', 'faraway', 'othernet', 'far']);
    const farIp = await ipOf('far', 1);
    const both = await d.ok(['run', '--rm', '--network', 'appnet', '--network', 'othernet', 'busybox', 'sh', '-c', 'grep nameserver /etc/resolv.conf; nslookup api; nslookup faraway']);
    expect(both).toContain(`nameserver ${GATEWAY}`);
    expect(both).toContain(`Address: ${apiIp}`);
    expect(both).toContain(`Name:\tfaraway\nAddress: ${farIp}\n`);
    expect((await d.hull(['run', '--rm', '--network', 'appnet', 'busybox', 'nslookup', 'faraway'])).code).not.toBe(0);
    await d.ok(['rm', '-f', 'far']);
  });

  it('an internal network reaches its own members and nothing else', async () => {
    await d.ok(['network', 'create', '--internal', 'inner', '--subnet', '10.231.9.0/24']);
    await d.ok(['run', '-d', '--name', 'vault', '--network', 'inner', 'busybox', 'sh', '-c', 'echo secret > /tmp/index.html; exec httpd -f -p 80 -h /tmp']);
    const inner = ['run', '--rm', '--network', 'inner', 'busybox', 'sh', '-c'];
    expect(await d.ok([...inner, 'wget -qO- http://vault/'])).toBe('secret\n');
    expect(await d.ok([...inner, `timeout 2 wget -qO- http://10.231.9.1:${PORT}/; echo rc=$?`])).not.toContain('rc=0');
    expect(await d.ok([...inner, 'nslookup outside.test; echo rc=$?'])).not.toContain('192.0.2.44');
    // A member that is on an open network too resolves the outside world's names through the internal one's server (as docker).
    const both = await d.ok(['run', '--rm', '--network', 'inner', '--network', 'appnet', 'busybox', 'sh', '-c', 'grep nameserver /etc/resolv.conf; nslookup outside.test; nslookup vault']);
    expect(both).toContain('nameserver 10.231.9.1');
    expect(both).toContain('192.0.2.44');
    expect(both).toContain(`Address: ${await ipOf('vault')}`);
    expect((await d.hull(['run', '--rm', '--network', 'inner', '-p', '80', 'busybox', 'true'])).stderr).toMatch(/inner is internal/);
    await d.ok(['rm', '-f', 'vault']);
    await d.ok(['network', 'rm', 'inner']);
  });

  it('publishes port ranges, and with -P the ports the image exposes', async () => {
    const dir = await mkdtemp('/tmp/hull-exposed-');
    try {
      const config = { Env: ['PATH=/bin'], Cmd: ['sh'], ExposedPorts: { '80/tcp': {}, '53/udp': {} } };
      await writeTarsLayout(dir, [await busyboxTar(join(REPO, 'build', 'images', 'busybox'))], { gzip: false, refName: 'latest', config });
      await d.ok(['image', 'import', dir, 'exposer:latest']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await d.ok(['run', '-d', '--name', 'ranged', '-P', '-p', `${PORT + 2}-${PORT + 3}:8080-8081`, 'exposer', 'sh', '-c', 'echo ranged > /tmp/index.html; exec httpd -f -p 8081 -h /tmp']);
    const ports = (await inspect('ranged')).config.ports as Array<{ hostPort: number; containerPort: number; protocol: string }>;
    expect(ports.filter((p) => p.hostPort === PORT + 2 || p.hostPort === PORT + 3).map((p) => p.containerPort)).toEqual([8080, 8081]);
    const exposed = ports.filter((p) => p.containerPort === 80 || p.containerPort === 53);
    expect(exposed.map((p) => `${p.containerPort}/${p.protocol}`).sort()).toEqual(['53/udp', '80/tcp']);
    for (const p of exposed) expect(p.hostPort).toBeGreaterThanOrEqual(32768);
    expect(await get(`http://127.0.0.1:${PORT + 3}/`)).toBe('ranged\n');
    await d.ok(['rm', '-f', 'ranged']);
    await d.ok(['rmi', 'exposer']);
  });

  it('--network none has loopback only; --network host shares the host network', async () => {
    const none = await d.ok(['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link']);
    expect(none.trim().split('\n')).toHaveLength(1);
    expect(none).toContain('lo:');
    const bridge = (await netInspect('appnet')).bridge as string;
    expect(await d.ok(['run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', 'link'])).toContain(bridge);
    const bad = await d.hull(['run', '--rm', '--network', 'host', '-p', '80:80', 'busybox', 'true']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/published ports need a bridge network/);
  });

  it('connects and disconnects a running container', async () => {
    await d.ok(['run', '-d', '--name', 'roamer', 'busybox', 'sleep', '300']);
    await d.ok(['network', 'connect', '--alias', 'rover', 'appnet', 'roamer']);
    expect(await d.ok(['exec', 'roamer', 'wget', '-qO-', 'http://api/'])).toBe('hello-from-api\n');
    expect(await d.ok(['run', '--rm', '--network', 'appnet', 'busybox', 'nslookup', 'rover'])).toContain(await ipOf('roamer', 1));
    expect((await netInspect('appnet')).containers.map((c: { name: string }) => c.name)).toContain('roamer');
    await d.ok(['network', 'disconnect', 'appnet', 'roamer']);
    expect((await d.hull(['exec', 'roamer', 'ip', 'link', 'show', 'eth1'])).code).not.toBe(0);
    expect((await netInspect('appnet')).containers.map((c: { name: string }) => c.name)).not.toContain('roamer');
    await d.ok(['rm', '-f', 'roamer']);
  });

  it('refuses bad input clearly and leaves nothing half-made', async () => {
    const bridges = JSON.parse(await d.ok(['network', 'ls', '--format', 'json'])).map((n: { bridge: string }) => n.bridge);
    const mine = async () => ({ veths: await ports(bridges), bridges: await withAddressIn('10.231.') });
    const before = { netns: await ourNetns(), links: await mine(), ps: await d.ok(['ps', '-aq']), nets: await d.ok(['network', 'ls', '-q']) };
    const fails = async (args: string[], msg: RegExp) => {
      const r = await d.hull(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(msg);
    };
    await fails(['network', 'create', 'overlap', '--subnet', '10.231.0.0/16'], /overlaps network appnet/);
    await fails(['network', 'create', 'badgw', '--subnet', '10.231.9.0/24', '--gateway', '10.231.10.1'], /not a usable address/);
    await fails(['network', 'create', 'appnet'], /already in use/);
    await fails(['run', '-d', '--network', 'appnet', '--ip', '10.231.99.5', 'busybox', 'true'], /not a usable address of network appnet/);
    await fails(['run', '-d', '--network', 'appnet', '--ip', await ipOf('api'), 'busybox', 'true'], /already in use on network appnet/);
    await fails(['run', '-d', '--network', 'nosuchnet', 'busybox', 'true'], /network "nosuchnet" not found/);
    await fails(['run', '-d', '--name', 'dup', '-p', `${PORT}:80`, 'busybox', 'sleep', '5'], new RegExp(`port 0.0.0.0:${PORT}/tcp is already published by container api`));
    await fails(['run', '-d', '-p', '99999:80', 'busybox', 'true'], /invalid port spec/);
    const squatter = http.createServer().listen(PORT + 10, '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
    await fails(['run', '-d', '-p', `${PORT + 10}:80`, 'busybox', 'true'], /already in use on the host by another program/);
    squatter.close();
    await fails(['network', 'rm', 'appnet'], /in use by api/);
    expect(await ourNetns()).toEqual(before.netns);
    const after = await mine();
    expect(after.veths.filter((x) => !before.links.veths.includes(x))).toEqual([]);
    expect(after.bridges).toEqual(before.links.bridges);
    expect(await d.ok(['ps', '-aq'])).toBe(before.ps);
    expect(await d.ok(['network', 'ls', '-q'])).toBe(before.nets);
    expect((await netInspect('appnet')).containers).toHaveLength(1);
  });

  it('IPAM never gives an address twice under 50 parallel runs, and takes them all back', async () => {
    await d.ok(['network', 'create', 'many', '--subnet', '10.231.16.0/24']);
    const ids = await Promise.all(Array.from({ length: 50 }, () => d.ok(['run', '-d', '--network', 'many', 'busybox', 'sleep', '300'], { timeoutMs: 120_000 })));
    const net = await netInspect('many');
    const ips = net.containers.map((c: { ipAddress: string }) => c.ipAddress);
    expect(ips).toHaveLength(50);
    expect(new Set(ips).size).toBe(50);
    const live = new Set((await Promise.all(ids.map((id) => ipOf(id.trim())))));
    expect(live.size).toBe(50);
    await d.ok(['rm', '-f', ...ids.map((x) => x.trim())], { timeoutMs: 120_000 });
    expect((await netInspect('many')).containers).toEqual([]);
    await d.ok(['network', 'rm', 'many']);
  }, 150_000);

  it('after a daemon SIGKILL: ports and names work again, orphans go, and rm leaves no rule, veth, netns or bridge', async () => {
    const short = (await d.ok(['run', '-d', '--network', 'appnet', '--name', 'short', 'busybox', 'sleep', '1'])).trim();
    await d.crash();
    await new Promise((r) => setTimeout(r, 1500)); // `short` exits while no daemon runs
    await d.spawn();
    expect(await get(`http://127.0.0.1:${PORT}/`)).toBe('hello-from-api\n');
    expect(await d.ok(['run', '--rm', '--network', 'appnet', 'busybox', 'wget', '-qO-', 'http://web/'])).toBe('hello-from-api\n');
    await waitFor(async () => (await inspect('short')).state.status === 'exited');
    expect(await ourNetns()).not.toContain(`${names.netnsPrefix}${short.slice(0, 12)}`);

    const bridges = [(await netInspect('appnet')).bridge, (await netInspect('othernet')).bridge];
    const dflt = (await netInspect('hull0')).bridge;
    await d.ok(['rm', '-f', 'api', 'short']);
    // The kernel takes a removed namespace's veths with it, a few tens of ms later.
    await waitFor(async () => (await ports([...bridges, dflt])).length === 0, 5000);
    await d.ok(['network', 'rm', 'appnet', 'othernet']);
    expect(await ourNetns()).toEqual([]);
    expect((await links()).filter((l) => bridges.includes(l))).toEqual([]);
    expect(await table()).not.toMatch(/dnat ip to 10\.231/);
    await d.stop();
    expect(await links()).not.toContain(dflt);
    expect(await table()).toBe('');
    await d.spawn();
  });

  it('network prune removes only the networks nobody is on (a stopped container counts), never the default', async () => {
    await d.ok(['network', 'create', 'spare1']);
    await d.ok(['network', 'create', 'spare2']);
    await d.ok(['create', '--name', 'holder', '--network', 'spare2', 'busybox', 'true']);
    const bridge1 = (await netInspect('spare1')).bridge as string;
    // Without -f it asks, and "n" keeps everything.
    expect((await d.hull(['network', 'prune'], { input: 'n\n' })).stdout).toBe('');
    expect((await d.ok(['network', 'ls', '-q'])).split('\n').length).toBeGreaterThan(2);
    const out = await d.ok(['network', 'prune', '-f']);
    expect(out.split('\n')[0]).toBe('Deleted Networks:');
    expect(out).toContain('spare1');
    for (const kept of ['spare2', 'appnet', 'hull0']) expect(out).not.toMatch(new RegExp(`^${kept}$`, 'm'));
    const left = (await d.ok(['network', 'ls', '--format', 'json'])).toString();
    expect(left).not.toContain('"spare1"');
    expect(left).toContain('"spare2"');
    expect((await run(['ip', 'link', 'show', bridge1], { allowFailure: true })).code).not.toBe(0);
    await d.ok(['rm', 'holder']);
    expect(await d.ok(['network', 'prune', '-f'])).toContain('spare2');
  });
});
