import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { invalid } from '../core/errors.js';
import { q } from './parse.js';
import { acceptUpgrade } from './streams.js';
import { UpgradeRouter } from './upgrade.js';

/**
 * The upgrade router against real sockets: whatever the request line holds and
 * whenever the client goes, the answer is an HTTP error on that socket and the
 * process carries on (before, a malformed escape threw out of the server's
 * 'upgrade' listener and an EPIPE on an upgraded socket had no listener).
 */
let dir: string;
let sock: string;
let server: Server;
const seen: unknown[] = [];
const onUncaught = (e: unknown) => seen.push(e);
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
let wrote = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hull-upgrade-'));
  sock = join(dir, 's.sock');
  const router = new UpgradeRouter();
  router.add('POST', '/v1/things/:ref/attach', { query: z.object({ stdin: q.bool() }) }, async (req, socket, p, query) => {
    if (p.ref === 'fail') throw invalid('no such thing');
    if (p.ref === 'slow') {
      // Answer after the client has gone, then keep writing: EPIPE, ECONNRESET.
      await delay(100);
      acceptUpgrade(req, socket, 'application/vnd.docker.raw-stream');
      for (let i = 0; i < 50; i++, wrote++) socket.write(Buffer.alloc(64 * 1024));
      return;
    }
    acceptUpgrade(req, socket, 'application/vnd.docker.raw-stream');
    socket.end(`${p.ref} stdin=${query.stdin}`);
  });
  server = createServer();
  server.on('upgrade', (req, socket) => router.handle(req, socket));
  await new Promise<void>((r) => server.listen(sock, r));
  process.on('uncaughtException', onUncaught);
});

afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  server?.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => expect(seen).toEqual([]));

/** Send an upgrade request as raw bytes; resolve with everything the server wrote before closing. */
function raw(path: string, extra = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    let text = '';
    s.on('data', (b) => (text += b.toString()));
    s.on('close', () => resolve(text));
    s.on('error', reject);
    s.setTimeout(5_000, () => reject(new Error(`no answer to ${path}: ${text}`)));
    s.write(`POST ${path} HTTP/1.1\r\nHost: hull\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n${extra}\r\n`);
  });
}
const statusOf = (text: string) => text.split('\r\n')[0];
const bodyOf = (text: string) => JSON.parse(text.split('\r\n\r\n')[1]);

describe('UpgradeRouter', () => {
  it('routes and parses: params decoded, query typed', async () => {
    const t = await raw('/v1/things/a%20b/attach?stdin=1');
    expect(statusOf(t)).toBe('HTTP/1.1 101 UPGRADED');
    expect(t).toMatch(/a b stdin=true$/);
  });

  it('answers a malformed percent-encoding with 400, and goes on serving', async () => {
    for (const path of ['/v1/things/%E0%A4%A/attach', '/v1/things/%/attach', '/v1/things/%FF/attach', '/v1/things/%C0%80/attach']) {
      const t = await raw(path);
      expect(statusOf(t), path).toBe('HTTP/1.1 400 Bad Request');
      expect(bodyOf(t)).toMatchObject({ code: 'invalid', message: expect.stringMatching(/malformed percent-encoding/) });
    }
    expect(statusOf(await raw('/v1/things/ok/attach'))).toBe('HTTP/1.1 101 UPGRADED');
  });

  it('refuses repeated, unknown and malformed query parameters with 400 naming them', async () => {
    expect(bodyOf(await raw('/v1/things/a/attach?stdin=1&stdin=0')).message).toBe('query parameter "stdin" is given 2 times: give it once');
    expect(bodyOf(await raw('/v1/things/a/attach?nope=1')).message).toBe('unknown query parameter "nope"');
    expect(bodyOf(await raw('/v1/things/a/attach?stdin=%E0%A4%A')).message).toMatch(/query parameter "stdin"/);
  });

  it("answers an unknown route 404 and a handler's error with its status", async () => {
    expect(statusOf(await raw('/v1/nothing'))).toBe('HTTP/1.1 404 Not Found');
    expect(statusOf(await raw('//v1/things/a/attach?x'))).toBe('HTTP/1.1 404 Not Found');
    const t = await raw('/v1/things/fail/attach');
    expect(statusOf(t)).toBe('HTTP/1.1 400 Bad Request');
    expect(bodyOf(t)).toEqual({ code: 'invalid', message: 'no such thing' });
  });

  it('survives a client that vanishes while its upgrade is being answered', async () => {
    wrote = 0;
    for (let i = 0; i < 5; i++) {
      const s = connect(sock);
      s.on('error', () => undefined);
      s.write('POST /v1/things/slow/attach HTTP/1.1\r\nHost: hull\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n', () => s.destroy());
    }
    await delay(400);
    expect(wrote).toBe(250);
    expect(statusOf(await raw('/v1/things/ok/attach'))).toBe('HTTP/1.1 101 UPGRADED');
  });
});
