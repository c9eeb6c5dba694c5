import Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compat, startDockerDaemon } from '../helpers/docker.js';
import type { TestDaemon } from '../helpers/hull.js';

/**
 * Two SDKs real tools are built on, against Hull's Docker socket:
 * dockerode (docker-modem underneath; used by many Node tools) and
 * testcontainers (which drives dockerode the way test suites do).
 */
const compat = new Compat('docker-sdk', 'sdk');
let d: TestDaemon;
let destroy: (() => Promise<void>) | undefined;
let sock: string;
let docker: Docker;

beforeAll(async () => {
  ({ daemon: d, sock, destroy } = await startDockerDaemon('sdk'));
  docker = new Docker({ socketPath: sock });
});

afterAll(async () => {
  compat.save();
  await destroy?.();
});

/** Split a multiplexed stream into stdout and stderr text. */
function demux(stream: NodeJS.ReadableStream): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const o = new PassThrough().on('data', (b: Buffer) => (out += b.toString()));
  const e = new PassThrough().on('data', (b: Buffer) => (err += b.toString()));
  docker.modem.demuxStream(stream, o, e);
  return { out: () => out, err: () => err };
}

describe('dockerode', () => {
  it('ping, version, info; create, attach (hijacked), start, wait, logs, remove', async () => {
    compat.covers('dockerode', 'ping/version/info', 'create + attach + start + wait', 'logs', 'remove');
    expect(String(await docker.ping())).toBe('OK');
    expect((await docker.version()).ApiVersion).toBe('1.50');
    expect((await docker.info()).OperatingSystem).toBe('Hull');
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo hello; echo oops >&2; exit 3'], Labels: { sdk: 'dockerode' } });
    const s = demux(await c.attach({ stream: true, stdout: true, stderr: true, hijack: true }));
    await c.start();
    expect(await c.wait()).toEqual({ StatusCode: 3 });
    await new Promise((r) => setTimeout(r, 100));
    expect([s.out(), s.err()]).toEqual(['hello\n', 'oops\n']);
    const logs = demux(await c.logs({ stdout: true, stderr: true, follow: true }));
    await new Promise((r) => setTimeout(r, 200));
    expect(logs.out()).toBe('hello\n');
    const listed = await docker.listContainers({ all: true, filters: { label: ['sdk=dockerode'] } });
    expect(listed.map((x) => x.Id)).toEqual([c.id]);
    await c.remove();
    await expect(c.inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('attach with stdin on a tty container, resize, exec with and without a stream, exec inspect', async () => {
    compat.covers('dockerode', 'attach stdin (tty)', 'resize', 'exec');
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh'], Tty: true, OpenStdin: true, StdinOnce: false });
    const stream = await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    let out = '';
    stream.on('data', (b: Buffer) => (out += b.toString()));
    await c.start();
    await c.resize({ h: 33, w: 111 });
    stream.write('stty size; exit 6\n');
    expect(await c.wait()).toEqual({ StatusCode: 6 });
    await new Promise((r) => setTimeout(r, 200));
    // dockerode sends its options as the attach request's body: never input to the container.
    expect(out).not.toContain('hijack');
    expect(out).toContain('33 111');
    const run = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '600'] });
    await run.start();
    const ex = await run.exec({ Cmd: ['sh', '-c', 'echo via-exec; exit 2'], AttachStdout: true, AttachStderr: true });
    const es = demux(await ex.start({ hijack: true, stdin: false }));
    await new Promise((r) => setTimeout(r, 300));
    expect(es.out()).toBe('via-exec\n');
    expect(await ex.inspect()).toMatchObject({ Running: false, ExitCode: 2, ContainerID: run.id });
    const detached = await run.exec({ Cmd: ['touch', '/tmp/flag'] });
    await detached.start({ Detach: true });
    await new Promise((r) => setTimeout(r, 300));
    expect((await detached.inspect()).ExitCode).toBe(0);
    await run.remove({ force: true });
    await c.remove();
  });

  it('images, networks and the archive endpoints', async () => {
    compat.covers('dockerode', 'images', 'networks', 'putArchive/getArchive');
    expect((await docker.listImages()).some((i) => i.RepoTags?.includes('busybox:latest'))).toBe(true);
    await docker.getImage('busybox').tag({ repo: 'sdkbox', tag: 'v1' });
    expect((await docker.getImage('sdkbox:v1').inspect()).RepoTags).toContain('sdkbox:v1');
    await docker.getImage('sdkbox:v1').remove();
    const net = await docker.createNetwork({ Name: 'sdknet', Labels: { by: 'sdk' } });
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '600'], HostConfig: { NetworkMode: 'sdknet' }, NetworkingConfig: { EndpointsConfig: { sdknet: { Aliases: ['sdkalias'] } } } });
    await c.start();
    const n = await net.inspect();
    expect(n).toMatchObject({ Name: 'sdknet', Labels: { by: 'sdk' } });
    expect(Object.keys(n.Containers)).toEqual([c.id]);
    expect((await c.inspect()).NetworkSettings.Networks.sdknet.Aliases).toContain('sdkalias');
    const tar = await docker.getContainer(c.id).getArchive({ path: '/etc/hostname' });
    const chunks: Buffer[] = [];
    for await (const b of tar as AsyncIterable<Buffer>) chunks.push(b);
    expect(Buffer.concat(chunks).subarray(512, 524).toString()).toBe(c.id.slice(0, 12));
    await c.remove({ force: true });
    await net.remove();
  });
});

describe('testcontainers', () => {
  it('a container with an exposed port and a log wait; exec, logs, copy, restart, stop; a network with an alias', async () => {
    compat.covers('testcontainers', 'GenericContainer + exposed port + wait', 'exec', 'copyContentToContainer', 'restart/stop', 'Network + alias');
    process.env.DOCKER_HOST = `unix://${sock}`;
    // Ryuk, testcontainers' reaper, is an image from Docker Hub: not reachable here (these machines have no internet).
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    const { GenericContainer, Network, Wait } = await import('testcontainers');
    const net = await new Network().start();
    const web = await new GenericContainer('busybox')
      .withCommand(['sh', '-c', 'echo ready; exec httpd -f -p 80 -h /etc'])
      .withExposedPorts(80)
      .withNetwork(net)
      .withNetworkAliases('tc-web')
      // The log line comes just before httpd listens: both, so the fetch below never races it.
      .withWaitStrategy(Wait.forAll([Wait.forLogMessage('ready'), Wait.forHttp('/hostname', 80)]))
      .withLabels({ by: 'testcontainers' })
      .start();
    const res = await fetch(`http://${web.getHost()}:${web.getMappedPort(80)}/hostname`);
    expect((await res.text()).trim()).toBe(web.getId().slice(0, 12));
    const client = await new GenericContainer('busybox').withCommand(['sleep', '600']).withNetwork(net).start();
    const got = await client.exec(['wget', '-qO-', 'http://tc-web/hostname']);
    expect(got).toMatchObject({ exitCode: 0 });
    expect(got.output.trim()).toBe(web.getId().slice(0, 12));
    await client.copyContentToContainer([{ content: 'from the test\n', target: '/tmp/copied.txt' }]);
    expect((await client.exec(['cat', '/tmp/copied.txt'])).output).toBe('from the test\n');
    await web.restart();
    expect((await fetch(`http://${web.getHost()}:${web.getMappedPort(80)}/hostname`)).status).toBe(200);
    await client.stop();
    await web.stop();
    await net.stop();
    expect(await docker.listContainers({ all: true, filters: { label: ['by=testcontainers'] } })).toEqual([]);
  });
});
