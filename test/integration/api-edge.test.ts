import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, httpBytes, rawSend, UPGRADE } from '../helpers/api.js';
import { REPO, TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * The API's edge against a real daemon: requests that used to kill it, reach
 * code with the wrong types, or leave exec sessions behind. Each answer is a
 * 4xx for that request alone; the daemon goes on serving.
 */
let d: TestDaemon;
const alive = async () => {
  expect(d.proc!.exitCode, `daemon exited: ${d.logs.slice(-2000)}`).toBeNull();
  expect((await api(d.socket, 'GET', '/_ping')).text).toBe('OK');
};

beforeAll(async () => {
  d = await TestDaemon.start();
  await d.ok(['run', '-d', '--name', 'box', 'busybox', 'sleep', '1000']);
}, 60_000);
afterAll(async () => {
  await d?.destroy();
}, 60_000);

describe('one request cannot take the daemon down', () => {
  it('answers a malformed percent-encoding on an upgrade route with 400', async () => {
    for (const path of ['/v1/containers/%E0%A4%A/attach', '/v1/exec/%E0%A4%A/start', '/v1/containers/%/attach?stdin=1']) {
      const r = await rawSend(d.socket, httpBytes('POST', path, UPGRADE));
      expect(r.status, `${path}: ${r.text}`).toBe(400);
      expect(r.text).toMatch(/malformed percent-encoding/);
      await alive();
    }
    // And on plain routes, where fastify decodes.
    expect((await rawSend(d.socket, httpBytes('GET', '/v1/containers/%E0%A4%A'))).status).toBe(400);
    await alive();
  });

  it('survives clients that vanish while their upgrade is being answered', async () => {
    const { json } = await api(d.socket, 'POST', '/v1/containers/box/exec', { body: JSON.stringify({ cmd: ['true'] }) });
    const paths = ['/v1/containers/nosuch/attach', '/v1/containers/box/attach?stdin=1', `/v1/exec/${json!.id}/start`, '/v1/exec/nosuch/start'];
    for (let i = 0; i < 8; i++) {
      await Promise.all(paths.map((p) => rawSend(d.socket, httpBytes('POST', p, UPGRADE), { destroyAfterMs: i % 2 ? 0 : 5 })));
    }
    await new Promise((r) => setTimeout(r, 500));
    await alive();
    expect(d.logs).not.toMatch(/uncaught exception|unhandled rejection/);
  });

  it('takes an upload cut off by its client as that client gone, not as a daemon error', async () => {
    const cut = { 'Content-Type': 'application/x-tar', 'Content-Length': '100000' };
    for (const path of ['/v1/images/load', '/v1/vm-images?name=cut', '/v1/build', '/v1/containers/box/archive?path=/tmp']) {
      await rawSend(d.socket, httpBytes(path.includes('archive') ? 'PUT' : 'POST', path, cut, 'abc'), { destroyAfterMs: 50 });
    }
    await new Promise((r) => setTimeout(r, 300));
    await alive();
    expect(d.logs.split('\n').filter((l) => l.includes('"level":50'))).toEqual([]);
    expect((await api(d.socket, 'GET', '/v1/vm-images')).text).not.toMatch(/"cut"/);
  });
});

describe('queries, paths and names are parsed strictly', () => {
  it('refuses a repeated query parameter with 400 naming it, not a 500', async () => {
    const kill = await api(d.socket, 'POST', '/v1/containers/box/kill?signal=TERM&signal=KILL');
    expect(kill.status).toBe(400);
    expect(kill.json).toEqual({ code: 'invalid', message: 'query parameter "signal" is given 2 times: give it once' });
    const cp = await api(d.socket, 'GET', '/v1/containers/box/archive?path=/etc&path=/bin');
    expect(cp.status).toBe(400);
    expect(cp.json!.message).toMatch(/query parameter "path" is given 2 times/);
    expect((await api(d.socket, 'GET', '/v1/containers?all=1&all=0')).status).toBe(400);
    expect(await d.state('box', 'Status')).toBe('running');
  });

  it('refuses unknown query parameters and malformed values, naming them', async () => {
    const r = await api(d.socket, 'POST', '/v1/containers/box/stop?time=1');
    expect(r.status).toBe(400);
    expect(r.json!.message).toBe('unknown query parameter "time"');
    expect((await api(d.socket, 'POST', '/v1/containers/box/stop?t=soon')).json!.message).toMatch(/query parameter "t": expected an integer/);
    expect((await api(d.socket, 'POST', '/v1/containers/box/wait?condition=never')).json!.message).toMatch(/query parameter "condition"/);
    expect((await api(d.socket, 'GET', '/v1/containers/box/archive')).json!.message).toBe('query parameter "path": is required');
    expect((await api(d.socket, 'POST', '/v1/containers/box/kill?signal=NOPE')).json!.message).toMatch(/query parameter "signal": invalid signal "NOPE"/);
    expect(await d.state('box', 'Status')).toBe('running');
  });

  it('takes a hostname only as RFC 1123 has it', async () => {
    for (const bad of ['a b', 'x\n127.0.0.1 evil', '-lead', 'trail-', 'a..b', 'under_score', 'x'.repeat(64), `${'a.'.repeat(127)}a`]) {
      const r = await d.hull(['create', '--hostname', bad, 'busybox', 'true']);
      expect(r.code, bad).toBe(1);
      expect(r.stderr, bad).toMatch(/RFC 1123/);
    }
    const out = await d.ok(['run', '--rm', '--hostname', 'Web-1.example', 'busybox', 'cat', '/etc/hostname']);
    expect(out.trim()).toBe('Web-1.example');
    expect((await d.ok(['ps', '-aq'])).trim().split('\n')).toHaveLength(1);
  });

  it('takes names up to 128 characters, usable by name everywhere; refuses longer ones saying the limit', async () => {
    const name = `n${'x'.repeat(126)}1`;
    expect(name).toHaveLength(128);
    await d.ok(['create', '--name', name, 'busybox', 'sleep', '100']);
    await d.ok(['start', name]);
    expect(await d.state(name, 'Status')).toBe('running');
    await d.ok(['rm', '-f', name]);
    const long = await d.hull(['create', '--name', `${name}2`, 'busybox', 'true']);
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(/invalid name "nx+…": at most 128 characters \(it has 129\)/);

    const net = `net${'y'.repeat(125)}`;
    await d.ok(['network', 'create', net]);
    expect(JSON.parse(await d.ok(['network', 'inspect', net]))[0].name).toBe(net);
    await d.ok(['network', 'rm', net]);
    expect((await d.hull(['network', 'create', `${net}z`])).stderr).toMatch(/invalid network name .*at most 128 characters/);
  });
});

describe('exec sessions', () => {
  const execIn = async (ref: string) => (await api(d.socket, 'POST', `/v1/containers/${ref}/exec`, { body: JSON.stringify({ cmd: ['sh', '-c', 'echo ran >> /tmp/runs'] }) })).json!.id as string;

  it('runs a session once: of two concurrent starts, one is upgraded, the other is a 409', async () => {
    for (let round = 0; round < 3; round++) {
      const id = await execIn('box');
      const start = () => rawSend(d.socket, httpBytes('POST', `/v1/exec/${id}/start`, UPGRADE), { timeoutMs: 15_000 });
      const answers = await Promise.all([start(), start()]);
      expect(answers.map((a) => a.status).sort(), answers.map((a) => a.text).join('\n')).toEqual([101, 409]);
      expect(answers.find((a) => a.status === 409)!.text).toMatch(/"code":"conflict".*already started/);
    }
    await waitFor(async () => (await d.ok(['exec', 'box', 'cat', '/tmp/runs'])).trim().split('\n').length === 3, 10_000);
    expect((await d.ok(['exec', 'box', 'cat', '/tmp/runs'])).trim().split('\n')).toEqual(['ran', 'ran', 'ran']);
  });

  it("drops a container's sessions when the container is removed", async () => {
    await d.ok(['run', '-d', '--name', 'gone', 'busybox', 'sleep', '1000']);
    const id = await execIn('gone');
    expect((await api(d.socket, 'GET', `/v1/exec/${id}`)).status).toBe(200);
    await d.ok(['rm', '-f', 'gone']);
    const r = await api(d.socket, 'GET', `/v1/exec/${id}`);
    expect(r.status).toBe(404);
    expect(r.json!.code).toBe('not_found');
  });
});

describe('small interface slips', () => {
  it('hull daemon takes -H, as dockerd does', async () => {
    // TestDaemon gives `hull -H A daemon …`; `hull daemon -H B` after the verb must win, as dockerd's -H.
    const other = new TestDaemon(await mkdtemp('/tmp/hull-h'), join(d.root, 'global.sock'));
    const own = join(d.root, 'own.sock');
    other.daemonArgs = ['-H', `unix://${own}`];
    try {
      await other.spawn();
      expect((await api(own, 'GET', '/_ping')).text).toBe('OK');
      expect(existsSync(other.socket)).toBe(false);
    } finally {
      await other.stop();
      await rm(other.root, { recursive: true, force: true });
    }
  });

  const guestBuilt = existsSync(join(REPO, 'build', 'guest', 'guest.json'));
  it.skipIf(!guestBuilt)('hull vm inspect takes --format json and a template', async () => {
    await d.ok(['vm', 'create', '--name', 'v1', '--hostname', 'guest-1']);
    expect(JSON.parse(await d.ok(['vm', 'inspect', '--format', 'json', 'v1']))[0]).toMatchObject({ name: 'v1', type: 'vm' });
    // Templates see docker's document (its .Name has docker's leading slash) beside Hull's record.
    expect((await d.ok(['vm', 'inspect', '-f', '{{.Name}} {{.Config.Hostname}} {{.name}}', 'v1'])).trim()).toBe('/v1 guest-1 v1');
    const miss = await d.hull(['vm', 'inspect', '--format', 'json', 'v1', 'nosuch']);
    expect(miss.code).toBe(1);
    expect(JSON.parse(miss.stdout)).toHaveLength(1);
    expect((await d.hull(['vm', 'create', '--hostname', 'bad_host'])).stderr).toMatch(/RFC 1123/);
    await d.ok(['vm', 'rm', 'v1']);
  });
});
