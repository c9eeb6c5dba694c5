import { readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TestDaemon } from '../helpers/hull.js';

/**
 * The web dashboard as a browser reaches it: a real daemon with `--dashboard`
 * on a free loopback port, its sign-in link from `hull dashboard`, the API
 * behind it, and consoles over WebSockets into real containers.
 */
let d: TestDaemon;
let base: URL;
let loginUrl: string;
let auth: Record<string, string> = {};

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: base.hostname, port: base.port, method, path, headers: { host: base.host, ...headers } }, (res) => {
      let text = '';
      res.on('data', (b) => (text += b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A console over the dashboard's WebSocket: resolves with everything the terminal got and how the socket closed. */
function console_(path: string, input: string[], headers: Record<string, string> = {}, until?: RegExp, stepMs = 500): Promise<{ out: string; code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    // As a browser: the token as a subprotocol (a WebSocket has no other header a page can set).
    const token = headers.token ?? auth.authorization?.slice('Bearer '.length) ?? '';
    delete headers.token;
    const ws = new WebSocket(`ws://${base.host}${path}`, ['hull.v1', `bearer.${token}`], { headers: { origin: `http://${base.host}`, ...headers } });
    let out = '';
    const t = setTimeout(() => ws.terminate(), 20_000);
    ws.on('open', async () => {
      ws.send(JSON.stringify({ resize: [33, 111] }));
      for (const s of input) {
        if (stepMs) await new Promise((r) => setTimeout(r, stepMs));
        ws.send(Buffer.from(s));
      }
    });
    ws.on('message', (m, binary) => {
      out += binary ? m.toString() : `[text ${m.toString()}]`;
      if (until?.test(out)) ws.close(); // the browser's tab closed
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(t);
      resolve({ out: '', code: res.statusCode ?? 0, reason: 'http' });
    });
    ws.on('close', (code, reason) => {
      clearTimeout(t);
      resolve({ out, code, reason: reason.toString() });
    });
    ws.on('error', (e) => !String(e).includes('Unexpected server response') && reject(e));
  });
}

beforeAll(async () => {
  d = await TestDaemon.start(['--dashboard', '127.0.0.1:0']);
  const info = JSON.parse(await d.ok(['dashboard', '--format', 'json']));
  base = new URL(info.url);
  loginUrl = info.loginUrl;
  expect(loginUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]{64}$/);
});

afterAll(async () => {
  await d?.destroy();
});

describe('dashboard', () => {
  it('lets in only a caller with the token (as a bearer, never a cookie); the page itself holds nothing; the token is root-only on disk', async () => {
    const token = loginUrl.split('#token=')[1];
    expect((await request('GET', '/v1/containers')).status).toBe(401);
    expect((await request('GET', '/v1/containers', { authorization: `Bearer ${'0'.repeat(64)}` })).status).toBe(401);
    expect((await request('GET', '/v1/containers', { cookie: `hull_dashboard=${token}` })).status).toBe(401);
    auth = { authorization: `Bearer ${token}` };
    expect((await request('GET', '/v1/containers', auth)).status).toBe(200);
    // The app is served to anyone who can reach it (it holds no data); it asks for the link when it has no token.
    const page = await request('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['set-cookie']).toBeUndefined();
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.body).toMatch(/app\.js/);
    expect(((await stat(join(d.root, 'dashboard.token'))).mode & 0o777).toString(8)).toBe('600');
  });

  it('passes the API through, and refuses a change without its CSRF header, a foreign Host (DNS rebinding) or a foreign origin', async () => {
    await d.ok(['run', '-d', '--name', 'dash1', 'busybox', 'sleep', '600']);
    const list = await request('GET', '/v1/containers?all=1', auth);
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body).map((c: { name: string }) => c.name)).toContain('dash1');
    expect((await request('GET', '/v1/containers', { ...auth, host: `evil.example:${base.port}` })).status).toBe(403);
    expect((await request('POST', '/v1/containers/dash1/pause', auth)).status).toBe(403);
    expect((await request('POST', '/v1/containers/dash1/pause', { ...auth, 'x-hull-dashboard': '1', origin: 'http://evil.example' })).status).toBe(403);
    expect(await d.state('dash1', 'Status')).toBe('running');
    expect((await request('POST', '/v1/containers/dash1/pause', { ...auth, 'x-hull-dashboard': '1', origin: `http://${base.host}` })).status).toBe(200);
    expect(await d.state('dash1', 'Status')).toBe('paused');
    expect((await request('POST', '/v1/containers/dash1/unpause', { ...auth, 'x-hull-dashboard': '1' })).status).toBe(200);
    const missing = await request('POST', '/v1/containers/nosuch/start', { ...auth, 'x-hull-dashboard': '1' });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).message).toMatch(/nosuch/);
  });

  it('a shell console: a terminal of the size the browser gives, input and output both ways, and the exit code as the close reason', async () => {
    const r = await console_('/ws/containers/dash1/exec?rows=33&cols=111', ['stty size; tty; echo in-$((6*7))\r', 'exit 5\r']);
    expect(r.out).toContain('in-42');
    expect(r.out).toMatch(/\/dev\/pts\/\d+/);
    expect(r.code).toBe(1000);
    expect(r.reason).toBe('exited 5');
  });

  it('what the browser sends at once, before the shell is set up, is not lost (its size, its first keys)', async () => {
    const r = await console_('/ws/containers/dash1/exec', ['stty size; echo early-$((1+1)); exit 0\r'], {}, undefined, 0);
    expect(r.out).toContain('33 111');
    expect(r.out).toContain('early-2');
    expect(r.reason).toBe('exited 0');
  });

  it('a stream with nothing to say yet answers at once (events, a quiet followed log)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.get({ host: base.hostname, port: base.port, path: `/v1/events?since=${Date.now() / 1000}`, headers: { host: base.host, ...auth } }, (res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', () => undefined);
      setTimeout(() => reject(new Error('no answer within 2 s')), 2000);
    });
    expect(status).toBe(200);
  });

  it('attach: a container without a terminal shows its output as lines, read-only (leaving leaves it running); one with a terminal takes input', async () => {
    await d.ok(['run', '-d', '-i', '--name', 'dash-log', 'busybox', 'sh', '-c', 'i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.2; done']);
    const plain = await console_('/ws/containers/dash-log/attach', ['typed\n'], {}, /line-\d+\r\nline-\d+\r\n/);
    expect(plain.out).toMatch(/line-\d+\r\nline-\d+\r\n/);
    expect(await d.state('dash-log', 'Status')).toBe('running');
    await d.ok(['run', '-d', '-it', '--name', 'dash-tty', 'busybox', 'sh']);
    const tty = await console_('/ws/containers/dash-tty/attach?rows=20&cols=70', ['stty size; echo tty-$((2*21))\r', 'exit 0\r']);
    expect(tty.out).toContain('33 111'); // the URL's size, then the one the browser sent on open
    expect(tty.out).toContain('tty-42');
  });

  it('refuses a console to a foreign origin, without a session, or for a missing container (an error frame, then a close)', async () => {
    expect((await console_('/ws/containers/dash1/exec', [], { origin: 'http://evil.example' })).code).toBe(403);
    expect((await console_('/ws/containers/dash1/exec', [], { token: 'nope' })).code).toBe(403);
    const gone = await console_('/ws/containers/nosuch/exec', []);
    expect(gone.out).toMatch(/\[text \{"error":".*nosuch/);
    expect(gone.code).toBe(1011);
  });

  it('no request or upgrade, however malformed, takes the daemon down or gets a 5xx; a normal one works right after', async () => {
    const { connect } = await import('node:net');
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const sock = connect(Number(base.port), base.hostname, () => sock.end(text));
        let got = '';
        sock.on('data', (b) => (got += b));
        sock.on('error', () => resolve(got));
        sock.on('close', () => resolve(got));
        setTimeout(() => (sock.destroy(), resolve(got)), 3000);
      });
    const h = `Host: ${base.host}\r\nAuthorization: ${auth.authorization}\r\n`;
    const cases = [
      `GET /%E0%A4%A HTTP/1.1\r\n${h}\r\n`,
      `GET /v1/containers/%E0%A4%A HTTP/1.1\r\n${h}\r\n`,
      `GET /ws/containers/%E0%A4%A/exec HTTP/1.1\r\n${h}Connection: Upgrade\r\nUpgrade: websocket\r\nOrigin: http://${base.host}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      `GET /ws/containers/dash1/exec?cmd=%5B HTTP/1.1\r\n${h}Connection: Upgrade\r\nUpgrade: websocket\r\nOrigin: http://${base.host}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      `GET /ws/containers/dash1/exec HTTP/1.1\r\n${h}Connection: Upgrade\r\nUpgrade: websocket\r\nOrigin: http://${base.host}\r\nSec-WebSocket-Version: 99\r\n\r\n`,
      `POST /v1/containers HTTP/1.1\r\n${h}X-Hull-Dashboard: 1\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"a":`,
      `POST /v1/containers HTTP/1.1\r\n${h}X-Hull-Dashboard: 1\r\nContent-Length: 100\r\n\r\n{`,
      `BREW / HTTP/1.1\r\n${h}\r\n`,
      `GET /v1/version HTTP/1.1\r\nHost: ${base.host}\r\nAuthorization: Bearer ${'x'.repeat(9000)}\r\n\r\n`,
      `GET /%ZZ HTTP/1.1\r\nHost: ${base.host}\r\n\r\n`,
      'garbage\r\n\r\n',
      `GET / HTTP/1.1\r\n\r\n`,
    ];
    for (const c of cases) {
      const answer = await raw(c);
      expect(answer, c.slice(0, 60)).not.toMatch(/^HTTP\/1\.1 5\d\d/);
    }
    expect(d.proc!.exitCode).toBeNull();
    expect((await request('GET', '/v1/version', auth)).status).toBe(200);
  });

  it('a session outlives a daemon restart (the token is kept), and a console open through it ends cleanly', async () => {
    const open = console_('/ws/containers/dash1/exec', ['sleep 30\r']);
    await new Promise((r) => setTimeout(r, 1500));
    await d.stop();
    expect((await open).code).not.toBe(0);
    await d.spawn();
    const info = JSON.parse(await d.ok(['dashboard', '--format', 'json']));
    expect(info.loginUrl.split('#token=')[1]).toBe(loginUrl.split('#token=')[1]);
    base = new URL(info.url);
    expect((await request('GET', '/v1/version', auth)).status).toBe(200);
  });

  it('`hull dashboard --rotate`: the old token is out at once (its open console cut), the new link works; the page cannot reach its own sign-in', async () => {
    expect((await request('GET', '/v1/dashboard', auth)).status).toBe(403);
    expect((await request('POST', '/v1/dashboard/rotate', { ...auth, 'x-hull-dashboard': '1' })).status).toBe(403);
    const open = console_('/ws/containers/dash1/exec', ['sleep 30\r']);
    await new Promise((r) => setTimeout(r, 1000));
    const fresh = (await d.ok(['dashboard', '--rotate'])).trim();
    expect(fresh).toMatch(/#token=[0-9a-f]{64}$/);
    expect(fresh).not.toBe(loginUrl);
    expect((await open).code).not.toBe(1000);
    expect((await request('GET', '/v1/version', auth)).status).toBe(401);
    const token = fresh.split('#token=')[1];
    expect((await readFile(join(d.root, 'dashboard.token'), 'utf8')).trim()).toBe(token);
    expect(((await stat(join(d.root, 'dashboard.token'))).mode & 0o777).toString(8)).toBe('600');
    auth = { authorization: `Bearer ${token}` };
    loginUrl = fresh;
    expect((await request('GET', '/v1/version', auth)).status).toBe(200);
  });

  it('`hull dashboard` says why when the daemon serves none', async () => {
    const off = await TestDaemon.start();
    try {
      const r = await off.hull(['dashboard']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/serves no dashboard: turned off/);
      expect((await off.hull(['dashboard', '--rotate'])).stderr).toMatch(/no dashboard: turned off/);
    } finally {
      await off.destroy();
    }
  });
});
