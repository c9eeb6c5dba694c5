import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import type { DriverCase } from './case.js';
import { execOut, exited, waitFor } from './helpers.js';

/** The states an instance goes through, and the steps between them: init, pause, release, remove. */
export const lifecycleCases: DriverCase[] = [
  {
    title: 'status: absent before and after create, created after init, running after start, stopped after an exit (0, as exitStatus says), absent after remove; a stop after the exit changes nothing',
    starts: 1,
    async run(k) {
      const inst = k.instance({ kind: 'exit', code: 0, afterMs: 1000 });
      const ctx = k.fx.context(inst);
      expect((await k.d.status(inst)).status).toBe('absent');
      await k.d.create(inst, ctx);
      expect((await k.d.status(inst)).status).toBe('absent');
      const init = await k.d.init(inst, ctx);
      expect(await k.d.status(inst)).toMatchObject({ status: 'created' });
      expect(init.pid).toBeGreaterThan(0);
      expect(init.monitorPid).toBeGreaterThan(0);
      expect(await k.d.monitorAlive(inst)).toBe(true);
      expect(await k.d.exitStatus(inst)).toBeUndefined();
      const t0 = Date.now();
      const started = await k.d.start(inst, ctx);
      expect(started).toEqual(init);
      expect(await k.d.status(inst)).toEqual({ status: 'running', pid: started.pid });
      const ex = await exited(k.d, inst, k.bootMs + 1000);
      expect(ex).toMatchObject({ exitCode: 0, oomKilled: false });
      expect(Date.parse(ex.finishedAt)).toBeGreaterThanOrEqual(t0 - 1000);
      expect(Date.parse(ex.finishedAt)).toBeLessThanOrEqual(Date.now() + 1000);
      // Once the exit is reported the status follows (a QEMU may take a moment to go).
      await waitFor(async () => (await k.d.status(inst)).status === 'stopped', 10_000, 'status stopped');
      // Nothing left to stop: the exit stays the program's (no 137 written over it).
      await k.d.stop(inst, 1);
      expect(await k.d.exitStatus(inst)).toEqual(ex);
      await k.d.remove(inst);
      expect(await k.d.status(inst)).toEqual({ status: 'absent', pid: 0 });
      expect(await k.d.exitStatus(inst)).toBeUndefined();
    },
  },
  {
    title: 'pause and resume: status paused, then running again and answering an exec',
    starts: 0,
    async run(k) {
      const inst = await k.shared();
      await k.d.pause(inst);
      try {
        expect((await k.d.status(inst)).status).toBe('paused');
        expect(await k.d.monitorAlive(inst)).toBe(true);
      } finally {
        await k.d.resume(inst);
      }
      expect((await k.d.status(inst)).status).toBe('running');
      expect((await execOut(k.d, inst, ['echo', 'resumed'])).stdout).toBe('resumed\n');
    },
  },
  {
    title: 'kill SIGKILL ends the program at once (137); release keeps the files (the log); a second start runs the program again',
    starts: 2,
    async run(k) {
      const inst = await k.started({ kind: 'ignore-term' });
      await k.d.kill(inst, 'SIGKILL');
      expect((await exited(k.d, inst, 10_000)).exitCode).toBe(137);
      await k.d.release(inst);
      expect(existsSync(k.d.logPath(inst))).toBe(true);
      expect(await k.d.monitorAlive(inst)).toBe(false);
      expect((await k.d.status(inst)).status).not.toBe('running');

      const again = await k.d.start(inst, k.fx.context(inst));
      expect(await k.d.status(inst)).toEqual({ status: 'running', pid: again.pid });
      // The last run's exit is gone with the new run.
      expect(await k.d.exitStatus(inst)).toBeUndefined();
      await k.d.kill(inst, 'SIGKILL');
      expect((await exited(k.d, inst, 10_000)).exitCode).toBe(137);
      await k.d.release(inst);
    },
  },
  {
    title: 'remove is safe on what was never made or never started, and idempotent',
    starts: 0,
    async run(k) {
      const never = k.instance({ kind: 'sleep' });
      await k.d.remove(never);
      expect((await k.d.status(never)).status).toBe('absent');

      const created = await k.created({ kind: 'sleep' });
      await k.d.remove(created);
      await k.d.remove(created);
      expect((await k.d.status(created)).status).toBe('absent');
      expect(existsSync(k.d.logPath(created))).toBe(false);

      // init: the monitor (conmon, a paused QEMU) is up, the program never ran.
      const inited = await k.created({ kind: 'sleep' });
      await k.d.init(inited, k.fx.context(inited));
      expect(await k.d.monitorAlive(inited)).toBe(true);
      await k.d.remove(inited);
      expect(await k.d.status(inited)).toEqual({ status: 'absent', pid: 0 });
      await waitFor(async () => !(await k.d.monitorAlive(inited)), 10_000, 'the monitor to go');
      expect(existsSync(k.d.logPath(inited))).toBe(false);
      await k.d.remove(inited);
    },
  },
];

/** Last: it takes the shared running instance with it. */
export const removeRunningCase: DriverCase = {
  title: 'remove while running: the program and its monitor are gone, nothing is left',
  starts: 0,
  async run(k) {
    const inst = await k.shared();
    await k.d.remove(inst);
    expect(await k.d.status(inst)).toEqual({ status: 'absent', pid: 0 });
    await waitFor(async () => !(await k.d.monitorAlive(inst)), 10_000, 'the monitor to go');
    expect(existsSync(k.d.logPath(inst))).toBe(false);
  },
};
