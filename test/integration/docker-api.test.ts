import http from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compat, dockerClients, ok, runDocker, startDockerDaemon } from '../helpers/docker.js';
import type { TestDaemon } from '../helpers/hull.js';

/**
 * The Docker socket at the HTTP level: version negotiation, docker's error
 * shapes and status codes, what Hull does not map (answered as docker
 * answers, never a 500 or a crash), and requests no client should send.
 */
const compat = new Compat('docker-api', 'api');
let d: TestDaemon;
let destroy: (() => Promise<void>) | undefined;
let sock: string;

beforeAll(async () => {
  ({ daemon: d, sock, destroy } = await startDockerDaemon('api'));
});

afterAll(async () => {
  compat.save();
  await destroy?.();
});

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function req(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const r = http.request({ socketPath: sock, method, path, headers: { ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (b: Buffer) => (text += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

const json = (r: Res) => JSON.parse(r.body) as Record<string, unknown>;

describe('negotiation', () => {
  it('HEAD and GET /_ping give the newest version, no BuildKit and no swarm', async () => {
    compat.covers('HTTP', 'GET/HEAD /_ping with Api-Version');
    const head = await req('HEAD', '/_ping');
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(head.headers).toMatchObject({ 'api-version': '1.50', 'builder-version': '1', swarm: 'inactive', ostype: 'linux' });
    const get = await req('GET', '/_ping');
    expect(get).toMatchObject({ status: 200, body: 'OK' });
  });

  it('takes every version from 1.24 to 1.50 and unversioned paths, and refuses others as dockerd does', async () => {
    compat.covers('HTTP', 'versioned paths /v1.24 … /v1.50, unversioned');
    for (const v of ['/v1.24', '/v1.41', '/v1.50', '']) {
      const r = await req('GET', `${v}/version`);
      expect(r.status, v).toBe(200);
      expect(json(r)).toMatchObject({ ApiVersion: '1.50', MinAPIVersion: '1.24', Os: 'linux' });
    }
    const tooNew = await req('GET', '/v1.51/containers/json');
    expect(tooNew.status).toBe(400);
    expect(json(tooNew).message).toBe('client version 1.51 is too new. Maximum supported API version is 1.50');
    const tooOld = await req('GET', '/v1.12/info');
    expect(tooOld.status).toBe(400);
    expect(json(tooOld).message).toMatch(/^client version 1\.12 is too old\. Minimum supported API version is 1\.24/);
  });

  it.each(dockerClients())('$name works at the oldest and a middle version when told to', async (client) => {
    compat.covers(client.name, 'DOCKER_API_VERSION=1.24 / 1.30');
    for (const v of ['1.24', '1.30']) {
      const r = await runDocker(client, sock, ['run', '--rm', 'busybox', 'echo', `at ${v}`], { env: { DOCKER_API_VERSION: v } });
      expect(r, v).toMatchObject({ code: 0, stdout: `at ${v}\n` });
    }
  });
});

describe('errors are docker’s', () => {
  it('404 no such container or image, 409 a name in use, 400 a bad parameter; the body is {"message"} as application/json', async () => {
    compat.covers('HTTP', 'errors: {"message"}, 404 / 409 / 400');
    const missing = await req('GET', '/v1.50/containers/nope/json');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toBe('application/json');
    expect(json(missing)).toEqual({ message: 'No such container: nope' });
    expect(json(await req('GET', '/images/nope:1/json'))).toEqual({ message: 'No such image: nope:1' });
    const body = JSON.stringify({ Image: 'busybox', Cmd: ['true'] });
    expect((await req('POST', '/containers/create?name=twice', body)).status).toBe(201);
    const again = await req('POST', '/containers/create?name=twice', body);
    expect(again.status).toBe(409);
    expect(json(again).message).toMatch(/The container name "\/twice" is already in use/);
    const bad = await req('POST', '/containers/create', JSON.stringify({ Image: 'busybox', HostConfig: { RestartPolicy: { Name: 'sometimes' } } }));
    expect(bad.status).toBe(400);
    expect(json(bad).message).toBe("invalid restart policy 'sometimes'");
    expect((await req('POST', '/containers/create', '{"Image": ')).status).toBe(400);
    expect((await req('POST', '/containers/create', JSON.stringify({ Image: 7 }))).status).toBe(400);
    expect((await req('POST', '/containers/twice/kill')).status).toBe(409);
    expect((await req('DELETE', '/containers/twice')).status).toBe(204);
    expect(await req('GET', '/no/such/endpoint')).toMatchObject({ status: 404, body: '{"message":"page not found"}' });
  });
});

describe('what Hull does not map', () => {
  const cases: Array<[string, string, number, RegExp, string?]> = [
    ['GET', '/swarm', 503, /not a swarm manager/],
    ['POST', '/swarm/init', 501, /Swarm mode is not supported by Hull/, '{}'],
    ['GET', '/nodes', 503, /not a swarm manager/],
    ['GET', '/services', 503, /not a swarm manager/],
    ['POST', '/secrets/create', 503, /not a swarm manager/, '{}'],
    ['POST', '/plugins/pull?remote=x', 501, /Plugins is not supported/, '[]'],
    ['POST', '/containers/any/checkpoints', 501, /Checkpoint and restore is not supported/, '{}'],
    ['POST', '/commit?container=x', 501, /docker commit is not supported/],
    ['GET', '/images/search?term=x', 501, /docker search is not supported/],
    ['POST', '/build?version=2', 501, /BuildKit is not supported by Hull/, ''],
    ['POST', '/session', 501, /BuildKit sessions are not supported/],
    ['POST', '/containers/create', 501, /network mode 'container:<name>'/, JSON.stringify({ Image: 'busybox', HostConfig: { NetworkMode: 'container:x' } })],
    ['POST', '/networks/create', 501, /network driver "overlay" is not supported/, JSON.stringify({ Name: 'ov', Driver: 'overlay' })],
    ['POST', '/volumes/create', 501, /volume driver "nfs" is not supported by Hull/, JSON.stringify({ Name: 'v', Driver: 'nfs' })],
    ['POST', '/volumes/create', 501, /cluster volumes \(Swarm\) are not supported/, JSON.stringify({ Name: 'v', ClusterVolumeSpec: {} })],
    ['POST', '/containers/create', 501, /mount type "npipe" is not supported/, JSON.stringify({ Image: 'busybox', HostConfig: { Mounts: [{ Type: 'npipe', Source: 'x', Target: '/x' }] } })],
  ];
  it.each(cases)('%s %s answers %i, saying so', async (method, path, status, message, body) => {
    compat.covers('HTTP', `not supported: ${method} ${path.replace(/\?.*/, '')}`);
    const r = await req(method, path, body);
    expect(r.status).toBe(status);
    expect(json(r).message).toMatch(message);
  });

  it('plugins list empty; the CLI says what is unsupported and the daemon carries on', async () => {
    compat.covers('HTTP', 'not supported: docker swarm / node / plugin / checkpoint');
    expect(json({ body: (await req('GET', '/plugins')).body } as Res)).toEqual([]);
    const client = dockerClients()[0];
    if (!client) return;
    const swarm = await runDocker(client, sock, ['swarm', 'init']);
    expect(swarm.code).not.toBe(0);
    expect(swarm.stderr).toMatch(/Swarm mode is not supported by Hull/);
    const node = await runDocker(client, sock, ['node', 'ls']);
    expect(node.stderr).toMatch(/This node is not a swarm manager/);
    expect(await ok(runDocker(client, sock, ['plugin', 'ls']), 'plugin ls')).toMatch(/^ID\s+NAME/);
    expect((await req('GET', '/_ping')).status).toBe(200);
  });
});

describe('requests no client should send', () => {
  it('a stream request for nothing, a bad version or a cut-off body gets an HTTP error on its own socket; the daemon stays up', async () => {
    compat.covers('HTTP', 'malformed stream requests');
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const s = connect(sock);
        let out = '';
        s.on('data', (b) => (out += b.toString()));
        s.on('close', () => resolve(out));
        s.on('error', () => resolve(out));
        s.write(text);
        setTimeout(() => s.end(), 1500);
        setTimeout(() => s.destroy(), 5000);
      });
    const up = 'Connection: Upgrade\r\nUpgrade: tcp\r\n';
    expect(await raw(`POST /v1.50/containers/nope/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: d\r\n${up}\r\n`)).toMatch(/^HTTP\/1\.1 404[\s\S]*No such container: nope/);
    expect(await raw(`POST /v9.99/exec/x/start HTTP/1.1\r\nHost: d\r\n${up}\r\n`)).toMatch(/^HTTP\/1\.1 400[\s\S]*too new/);
    expect(await raw(`POST /v1.50/exec/x/start HTTP/1.1\r\nHost: d\r\n${up}Content-Length: 10\r\n\r\n{"Deta`)).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw(`POST /v1.50/exec/nope/start HTTP/1.1\r\nHost: d\r\n${up}Content-Length: 2\r\n\r\n{}`)).toMatch(/^HTTP\/1\.1 404[\s\S]*No such exec instance/);
    expect(await raw(`GET /v1.50/somewhere HTTP/1.1\r\nHost: d\r\n${up}\r\n`)).toMatch(/^HTTP\/1\.1 404/);
    expect(await raw(`POST /v1.50/containers/%E0%A4%A/attach HTTP/1.1\r\nHost: d\r\n${up}\r\n`)).toMatch(/^HTTP\/1\.1 (400|404)/);
    expect((await req('GET', '/_ping')).status).toBe(200);
    expect(d.logs).not.toMatch(/uncaught exception|unhandled rejection/);
  });
});
