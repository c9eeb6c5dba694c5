import { expect } from 'vitest';
import type { DriverCase } from './case.js';
import { execOut, exited, sleep, waitFor } from './helpers.js';

/** How long a program that exits `afterMs` after it is ready keeps running while the daemon is down. */
const AFTER_MS = 2000;

/**
 * A daemon restart: the driver object goes (fixture `down`), the instances
 * stay, and a fresh one (fixture `up`) must pick up where the last left off
 * from what is on disk and in the processes, as Recovery asks of it.
 */
export const recoveryCases: DriverCase[] = [
  {
    title: 'recovery: a fresh driver sees a running instance running (same pid, monitor alive) and can drive it',
    starts: 0,
    async run(k) {
      const inst = await k.shared();
      const before = await k.d.status(inst);
      await k.fx.down();
      // A daemon is away for a while: nothing the instance needs (its stdin, say) may go with it.
      await sleep(1000);
      const fresh = k.fx.up();
      expect(await fresh.exitStatus(inst)).toBeUndefined();
      expect(await fresh.monitorAlive(inst)).toBe(true);
      expect(await fresh.status(inst)).toEqual(before);
      expect((await execOut(fresh, inst, ['echo', 'drv-recovered'])).stdout).toBe('drv-recovered\n');
    },
  },
  {
    title: "recovery: a fresh driver reports the exit code of a program that ended while no driver existed",
    starts: 1,
    async run(k) {
      const code = k.exitCode(7);
      const inst = await k.started({ kind: 'exit', code, afterMs: AFTER_MS });
      // Still running when the daemon goes.
      expect(await k.d.exitStatus(inst)).toBeUndefined();
      await k.fx.down();
      // Where nothing outside a driver shows the end, wait out the program's time: should it end
      // later still, the fresh driver sees it live (a weaker check, never a wrong result).
      if (k.fx.ended) await waitFor(() => k.fx.ended!(inst), AFTER_MS + k.bootMs, 'the program to end (seen from outside the driver)');
      else await sleep(AFTER_MS + 2000);
      const fresh = k.fx.up();
      expect(await exited(fresh, inst, 15_000)).toMatchObject({ exitCode: code });
      await waitFor(async () => (await fresh.status(inst)).status === 'stopped', 10_000, 'status stopped');
      await fresh.release(inst);
      expect(await fresh.monitorAlive(inst)).toBe(false);
    },
  },
];
