import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isHullError } from '../../../core/errors.js';
import { QmpClient, QmpError, type QmpEvent } from './client.js';

/**
 * A fake QMP server on a temp unix socket: it greets as QEMU 7.2 does and
 * hands every command to `reply`, which answers the way the test wants
 * (several lines, events first, nothing at all, a hang-up).
 */
const GREETING = { QMP: { version: { qemu: { micro: 0, minor: 2, major: 7 }, package: 'fake' }, capabilities: ['oob'] } };

type Reply = (cmd: { execute: string; arguments?: Record<string, unknown>; id?: unknown }, sock: Socket) => void;

let dir: string;
let server: Server | undefined;
let path: string;

function serve(reply: Reply, greeting: unknown = GREETING): Promise<void> {
  server = createServer((sock) => {
    if (greeting !== null) sock.write(`${typeof greeting === 'string' ? greeting : JSON.stringify(greeting)}\r\n`);
    let buf = '';
    sock.on('data', (b) => {
      buf += b.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const cmd = JSON.parse(line);
        if (cmd.execute === 'qmp_capabilities') send(sock, { return: {}, id: cmd.id });
        else reply(cmd, sock);
      }
    });
    sock.on('error', () => undefined);
  });
  return new Promise((r) => server!.listen(path, () => r()));
}
const send = (sock: Socket, m: unknown) => sock.write(`${JSON.stringify(m)}\r\n`);
const event = (name: string, data?: unknown) => ({ event: name, data, timestamp: { seconds: 1, microseconds: 2 } });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmp-'));
  path = join(dir, 'qmp.sock');
});
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('QmpClient against a fake QMP server', () => {
  it('negotiates capabilities and reads the version from the greeting', async () => {
    await serve((cmd, s) => send(s, { return: { status: 'running', running: true }, id: cmd.id }));
    const q = await QmpClient.connect(path);
    expect(q.version?.qemu).toEqual({ major: 7, minor: 2, micro: 0 });
    expect(await q.execute('query-status')).toEqual({ status: 'running', running: true });
    await q.close();
    expect(q.closed).toBe(true);
  });

  it('matches answers to commands by id when they come back out of order, with events in between', async () => {
    const held: Array<() => void> = [];
    await serve((cmd, s) => {
      held.push(() => send(s, { return: cmd.arguments, id: cmd.id }));
      if (held.length === 3) {
        send(s, event('STOP'));
        // Answer in reverse, an event between each, and two messages in one write.
        s.write(`${JSON.stringify(event('RESUME'))}\r\n`);
        for (const h of held.reverse()) {
          h();
          send(s, event('RESET', { guest: true }));
        }
      }
    });
    const q = await QmpClient.connect(path);
    const events: QmpEvent[] = [];
    q.onEvent((e) => events.push(e));
    const answers = await Promise.all([1, 2, 3].map((n) => q.execute('echo', { n })));
    expect(answers).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(events.map((e) => e.event)).toEqual(['STOP', 'RESUME', 'RESET', 'RESET', 'RESET']);
    expect(events[2].data).toEqual({ guest: true });
    await q.close();
  });

  it('turns a QMP error answer into a typed QmpError with its class and description', async () => {
    await serve((cmd, s) => {
      if (cmd.execute === 'nope') send(s, { error: { class: 'CommandNotFound', desc: "The command nope has not been found" }, id: cmd.id });
      else send(s, { error: { class: 'DeviceNotFound', desc: "Device 'balloon0' not found" }, id: cmd.id });
    });
    const q = await QmpClient.connect(path);
    const e1 = await q.execute('nope').catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(QmpError);
    expect(e1).toMatchObject({ qmpClass: 'CommandNotFound', desc: 'The command nope has not been found', code: 'unavailable' });
    expect((e1 as Error).message).toBe('QMP nope: The command nope has not been found (CommandNotFound)');
    const e2 = await q.execute('query-balloon').catch((e: unknown) => e);
    expect(isHullError(e2, 'not_found')).toBe(true);
    // The connection is still good after an error.
    expect(q.closed).toBe(false);
    await q.close();
  });

  it('splits messages that arrive a byte at a time', async () => {
    await serve((cmd, s) => {
      const text = `${JSON.stringify(event('POWERDOWN'))}\r\n${JSON.stringify({ return: 42, id: cmd.id })}\r\n`;
      let i = 0;
      const tick = () => {
        if (i < text.length) s.write(text[i++], tick);
      };
      tick();
    });
    const q = await QmpClient.connect(path);
    const ev = q.waitEvent('POWERDOWN', () => true, 5000);
    expect(await q.execute('x')).toBe(42);
    expect((await ev).event).toBe('POWERDOWN');
    await q.close();
  });

  it('rejects a bad greeting', async () => {
    await serve(() => undefined, { hello: 'not qemu' });
    await expect(QmpClient.connect(path)).rejects.toThrow(/bad greeting/);
  });

  it('rejects a greeting that is not JSON', async () => {
    await serve(() => undefined, 'SSH-2.0-OpenSSH');
    await expect(QmpClient.connect(path)).rejects.toThrow(/not JSON/);
  });

  it('times out when the server never greets', async () => {
    await serve(() => undefined, null);
    const t0 = Date.now();
    const e = await QmpClient.connect(path, { timeoutMs: 200 }).catch((x: unknown) => x);
    expect(isHullError(e, 'unavailable')).toBe(true);
    expect((e as Error).message).toMatch(/no greeting within 200 ms/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('fails clearly when nothing listens on the socket', async () => {
    const e = await QmpClient.connect(join(dir, 'missing.sock')).catch((x: unknown) => x);
    expect(isHullError(e, 'unavailable')).toBe(true);
    expect((e as Error).message).toMatch(/missing\.sock: ENOENT/);
  });

  it('fails pending commands when the server hangs up mid-command, and later ones at once', async () => {
    await serve((_cmd, s) => setTimeout(() => s.destroy(), 20));
    const q = await QmpClient.connect(path);
    const closed = new Promise((r) => q.onClose(r));
    const e = await q.execute('stop').catch((x: unknown) => x);
    expect(isHullError(e, 'unavailable')).toBe(true);
    expect((e as Error).message).toMatch(/QMP stop: .*connection closed/);
    await closed;
    await expect(q.execute('cont')).rejects.toThrow(/QMP cont: .*connection closed/);
    await expect(q.waitEvent('RESUME')).rejects.toThrow(/connection closed/);
  });

  it('times out a command that gets no answer, and ignores the late answer', async () => {
    let late: (() => void) | undefined;
    await serve((cmd, s) => {
      if (cmd.execute === 'slow') late = () => send(s, { return: 'late', id: cmd.id });
      else send(s, { return: 'quick', id: cmd.id });
    });
    const q = await QmpClient.connect(path);
    await expect(q.execute('slow', undefined, { timeoutMs: 100 })).rejects.toThrow(/QMP slow: no answer within 100 ms/);
    late!();
    expect(await q.execute('fast')).toBe('quick');
    await q.close();
  });

  it('waitEvent filters by name and data and times out', async () => {
    await serve((cmd, s) => {
      send(s, event('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' }));
      send(s, event('SHUTDOWN', { guest: true, reason: 'guest-shutdown' }));
      send(s, { return: {}, id: cmd.id });
    });
    const q = await QmpClient.connect(path);
    const guest = q.waitEvent('SHUTDOWN', (e) => e.data?.guest === true, 5000);
    await q.execute('system_powerdown');
    expect((await guest).data?.reason).toBe('guest-shutdown');
    await expect(q.waitEvent('RESUME', () => true, 50)).rejects.toThrow(/no RESUME event within 50 ms/);
    await q.close();
  });
});
