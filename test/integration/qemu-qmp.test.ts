import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHullError } from '../../src/core/errors.js';
import { QEMU } from '../../src/runtime/qemu/process.js';
import { QmpClient, QmpError, type QmpEvent } from '../../src/runtime/qemu/qmp/client.js';

/** The QMP client against a real QEMU: a machine with no guest, started paused (-S), so no boot is needed. */
let dir: string;
let qemu: ChildProcess;
let sock: string;

beforeAll(async () => {
  dir = await mkdtemp('/tmp/hull-qmp-');
  sock = join(dir, 'qmp.sock');
  qemu = spawn(QEMU, ['-machine', 'q35', '-accel', 'tcg', '-nodefaults', '-display', 'none', '-S', '-qmp', `unix:${sock},server=on,wait=off`], { stdio: 'ignore' });
  for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 25));
});
afterAll(async () => {
  if (qemu.exitCode === null) qemu.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('QmpClient against real QEMU', () => {
  it('negotiates, runs commands, gets events, types errors, and sees QEMU go on quit', async () => {
    const q = await QmpClient.connect(sock);
    expect(q.version?.qemu.major).toBeGreaterThanOrEqual(7);
    expect(await q.execute('query-status')).toMatchObject({ status: 'prelaunch', running: false });

    const events: QmpEvent[] = [];
    q.onEvent((e) => events.push(e));
    const resumed = q.waitEvent('RESUME', () => true, 5000);
    await q.execute('cont');
    await resumed;
    expect(await q.execute('query-status')).toMatchObject({ status: 'running', running: true });
    const stopped = q.waitEvent('STOP', () => true, 5000);
    await q.execute('stop');
    await stopped;

    // Commands in flight together come back matched to their ids.
    const [st, name, kvm] = await Promise.all([q.execute<{ status: string }>('query-status'), q.execute('query-name'), q.execute<{ present: boolean }>('query-kvm')]);
    expect(st.status).toBe('paused');
    expect(name).toEqual({});
    expect(typeof kvm.present).toBe('boolean');

    const bad = await q.execute('no-such-command').catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(QmpError);
    expect(bad).toMatchObject({ qmpClass: 'CommandNotFound', code: 'unavailable' });
    const badArg = await q.execute('query-balloon').catch((e: unknown) => e);
    expect(isHullError(badArg)).toBe(true);
    expect((badArg as QmpError).qmpClass).toBe('DeviceNotActive');
    expect(await q.hmp('info status')).toMatch(/VM status: paused/);

    const shutdown = q.waitEvent('SHUTDOWN', () => true, 5000);
    const closed = new Promise((r) => q.onClose(r));
    await q.execute('quit');
    expect((await shutdown).data).toMatchObject({ guest: false, reason: 'host-qmp-quit' });
    await closed;
    expect(q.closed).toBe(true);
    await expect(q.execute('query-status')).rejects.toThrow(/connection closed/);
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['RESUME', 'STOP', 'SHUTDOWN']));
  });
});
