import { expect } from 'vitest';
import { isHullError } from '../../core/errors.js';
import type { DriverCase } from './case.js';
import { exited, waitFor } from './helpers.js';

/** How a program's run ends, as exitStatus reports it: its own code, a missing command, a stop, a kill. */
export const exitCases: DriverCase[] = [
  {
    title: "a program that exits non-zero: exitStatus reports the program's code",
    starts: 1,
    async run(k) {
      const inst = await k.created({ kind: 'exit', code: 3 });
      await k.d.start(inst, k.fx.context(inst));
      expect(await exited(k.d, inst, k.bootMs)).toMatchObject({ exitCode: 3, oomKilled: false });
    },
  },
  {
    title: 'a program that exits leaving a child running: the instance ends with the program, with its code',
    starts: 1,
    async run(k) {
      const inst = await k.created({ kind: 'exit', code: 4, leaveChild: true });
      await k.d.start(inst, k.fx.context(inst));
      expect(await exited(k.d, inst, k.bootMs)).toMatchObject({ exitCode: 4 });
      await waitFor(async () => (await k.d.status(inst)).status === 'stopped', 10_000, `${inst.name} to stop`);
    },
  },
  {
    title: 'a missing command: start fails with command_not_found and leaves nothing running, or the program exits 127',
    starts: 1,
    async run(k) {
      const inst = await k.created({ kind: 'missing' });
      const err = await k.d.start(inst, k.fx.context(inst)).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (err === undefined) {
        expect((await exited(k.d, inst, k.bootMs)).exitCode).toBe(127);
        return;
      }
      expect(isHullError(err, 'command_not_found'), String(err)).toBe(true);
      expect((await k.d.status(inst)).status).not.toBe('running');
      await waitFor(async () => !(await k.d.monitorAlive(inst)), 10_000, 'the monitor to go');
      // Nothing half-made is left to trip the next start: it fails the same way.
      const again = await k.d.start(inst, k.fx.context(inst)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isHullError(again, 'command_not_found'), String(again)).toBe(true);
    },
  },
  {
    title: "stop: a program that obeys SIGTERM ends before the timeout, with its own exit code",
    starts: 1,
    async run(k) {
      const inst = await k.started({ kind: 'sleep' });
      await k.d.stop(inst, 120);
      expect(await k.d.exitStatus(inst)).toMatchObject({ exitCode: 0 });
    },
  },
  {
    title: 'stop: a program that ignores SIGTERM is killed once the timeout has passed (137)',
    starts: 1,
    async run(k) {
      const inst = await k.started({ kind: 'ignore-term' });
      const t0 = Date.now();
      await k.d.stop(inst, 2);
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(1900);
      expect(took).toBeLessThan(2000 + 20_000);
      expect(await k.d.exitStatus(inst)).toMatchObject({ exitCode: 137 });
    },
  },
];
