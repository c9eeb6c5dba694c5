import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import type { DriverCase } from './case.js';
import { exitCases } from './exit-cases.js';
import type { DriverFixture, DriverSuiteOptions } from './fixture.js';
import { ioCases } from './io-cases.js';
import { CaseKit } from './kit.js';
import { lifecycleCases, removeRunningCase } from './lifecycle-cases.js';
import { recoveryCases } from './recovery-cases.js';

export { READY_LINE, Unsupported, programArgv, type DriverFixture, type DriverSuiteOptions, type Program } from './fixture.js';

/**
 * The Driver conformance suite, as storeSuite is for stores and containerd's
 * snapshotter testsuite for snapshotters: one set of cases, run against every
 * driver (real crun, runc, QEMU), through the Driver interface only, so the
 * orchestrator can rely on driver.ts's contract whichever kind it is given.
 *
 *   driverSuite('container (runc)', () => containerFixture('runc'), {
 *     skip: { 'case title': 'why this driver cannot' },
 *     bootMs: 10_000,
 *   });
 *
 * The factory runs once per suite (a root, a driver, whatever the kind
 * needs); each case makes its own instances, removed after it. A driver that
 * cannot pass a case lists it in `skip` with the reason, which shows in the
 * test's title; a case that asks a kind for a program it has none of
 * (Unsupported) fails until it is listed there.
 */
export const DRIVER_CASES: readonly DriverCase[] = [...exitCases, ...lifecycleCases, ...recoveryCases, ...ioCases, removeRunningCase];

export function driverSuite(name: string, factory: () => Promise<DriverFixture>, opts: DriverSuiteOptions = {}): void {
  const bootMs = opts.bootMs ?? 10_000;
  const unknown = Object.keys(opts.skip ?? {}).filter((t) => !DRIVER_CASES.some((c) => c.title === t));
  if (unknown.length) throw new Error(`driverSuite ${name}: skip names no case: ${unknown.join('; ')}`);

  describe(`Driver conformance: ${name}`, () => {
    let kit: CaseKit | undefined;
    beforeAll(async () => {
      kit = new CaseKit(await factory(), bootMs);
    }, 60_000 + bootMs);
    afterEach(async () => {
      await kit?.afterCase();
    }, 30_000 + bootMs);
    afterAll(async () => {
      if (!kit) return;
      try {
        await kit.afterAll();
      } finally {
        await kit.fx.cleanup();
      }
    }, 60_000 + bootMs);

    for (const c of DRIVER_CASES) {
      const reason = opts.skip?.[c.title];
      const timeout = 30_000 + 2 * (c.starts + 1) * bootMs;
      if (reason) it.skip(`${c.title} (skipped: ${reason})`, () => undefined);
      else it(c.title, () => c.run(kit!), timeout);
    }
  });
}
