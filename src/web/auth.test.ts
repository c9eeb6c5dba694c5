import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { DashboardAuth } from './auth.js';
import { parseResize } from './consoles.js';

const TOKEN = 'a'.repeat(64);
const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('DashboardAuth', () => {
  it('on loopback answers only to its own Host names (a DNS-rebinding page names its own)', () => {
    const a = new DashboardAuth(TOKEN, { host: '127.0.0.1', port: 7700 });
    for (const h of ['127.0.0.1:7700', 'localhost:7700', 'LOCALHOST:7700', '[::1]:7700']) expect(a.hostAllowed(req({ host: h })), h).toBe(true);
    for (const h of ['evil.example:7700', '127.0.0.1:7701', '127.0.0.1', '']) expect(a.hostAllowed(req({ host: h })), h).toBe(false);
    expect(new DashboardAuth(TOKEN, { host: '0.0.0.0', port: 7700 }).hostAllowed(req({ host: 'hull.lan:7700' }))).toBe(true);
  });

  it('takes the token as a bearer or a WebSocket subprotocol, never from a cookie', () => {
    const a = new DashboardAuth(TOKEN, { host: '127.0.0.1', port: 1 });
    expect(a.signedIn(req({ authorization: `Bearer ${TOKEN}` }))).toBe(true);
    expect(a.signedIn(req({ 'sec-websocket-protocol': `hull.v1, bearer.${TOKEN}` }))).toBe(true);
    expect(a.signedIn(req({ authorization: `Bearer ${'b'.repeat(64)}` }))).toBe(false);
    expect(a.signedIn(req({ authorization: `Bearer ${TOKEN}x` }))).toBe(false);
    expect(a.signedIn(req({ authorization: `Basic ${TOKEN}` }))).toBe(false);
    expect(a.signedIn(req({ 'sec-websocket-protocol': `hull.v1, bearer.${TOKEN.slice(1)}` }))).toBe(false);
    expect(a.signedIn(req({ cookie: `hull_dashboard=${TOKEN}` }))).toBe(false);
    expect(a.signedIn(req({}))).toBe(false);
  });

  it('same origin: the Origin header, when there is one, names the Host; a WebSocket must send one', () => {
    const a = new DashboardAuth(TOKEN, { host: '127.0.0.1', port: 7700 });
    expect(a.sameOrigin(req({ host: '127.0.0.1:7700', origin: 'http://127.0.0.1:7700' }), true)).toBe(true);
    expect(a.sameOrigin(req({ host: '127.0.0.1:7700', origin: 'http://evil.example' }), false)).toBe(false);
    expect(a.sameOrigin(req({ host: '127.0.0.1:7700', origin: 'null' }), false)).toBe(false);
    expect(a.sameOrigin(req({ host: '127.0.0.1:7700' }), false)).toBe(true);
    expect(a.sameOrigin(req({ host: '127.0.0.1:7700' }), true)).toBe(false);
  });
});

describe('parseResize', () => {
  it('takes {"resize":[rows, cols]} with each 1..1000, and nothing else', () => {
    expect(parseResize('{"resize":[24,80]}')).toEqual([24, 80]);
    for (const bad of ['{"resize":[0,80]}', '{"resize":[24,1001]}', '{"resize":[24.5,80]}', '{"resize":["24",80,1]}', '{"resize":null}', '[24,80]', 'not json', '{"resize":[24]}']) {
      expect(parseResize(bad), bad).toBeUndefined();
    }
  });
});
