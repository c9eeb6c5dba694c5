import type { Instance } from '../../core/instance.js';
import type { CreateContext, Driver } from '../driver.js';

/**
 * What a case asks an instance's program to do. Each kind maps it to a
 * program of its own (`programArgv` for the two container kinds; a VM's
 * first-boot script), or says it has none (`Unsupported`).
 *
 *   exit         end by itself with `code`, `afterMs` after it is ready
 *                (`leaveChild`: with a child of its own still running, which ends with it, as in docker)
 *   sleep        run until stopped; SIGTERM (a VM: the power button) ends it with 0
 *   ignore-term  run until killed: SIGTERM (the power button) does nothing
 *   shell        a shell reading commands on its stdin (a VM: its console)
 *   missing      a command the image does not have
 *
 * A program that runs for a while says when it has set itself up (its
 * SIGTERM handling in place), so a signal never races its start: it prints
 * READY_LINE on its stdout, or, on a driver with the `waitReady` capability
 * (a VM), the guest is up when that answers.
 */
export type Program =
  | { kind: 'exit'; code: number; afterMs?: number; leaveChild?: boolean }
  | { kind: 'sleep' }
  | { kind: 'ignore-term' }
  | { kind: 'shell' }
  | { kind: 'missing' };

export const READY_LINE = 'driver-suite-ready';

/** Thrown by `DriverFixture.instance` for a program the kind cannot run. */
export class Unsupported extends Error {}

/**
 * One kind of driver set up for the suite, over a root of its own:
 *
 *   driverSuite('container (crun)', async () => {
 *     const root = await mkdtemp('/tmp/hull-ds-');
 *     let driver = new ContainerDriver({ root, ... });
 *     return {
 *       get driver() { return driver; },
 *       instance: (name, program) => containerInstance(name, program),
 *       context: () => ({ layerDirs }),
 *       down: async () => {},
 *       up: () => (driver = new ContainerDriver({ root, ... })),
 *       cleanup: () => rm(root, { recursive: true, force: true }),
 *     };
 *   }, { skip: { 'case title': 'why this driver cannot' } });
 */
export interface DriverFixture {
  /** The driver under test (after `up`, the fresh one). */
  readonly driver: Driver;
  /** A record whose program does `program`, not yet created; throws Unsupported when the kind has none. */
  instance(name: string, program: Program): Instance;
  /** What create, init and start are given (the image's layers). */
  context(inst: Instance): CreateContext;
  /** The daemon goes away: the driver object lets go (connections closed), its instances keep running. */
  down(): Promise<void>;
  /** The next daemon: a fresh driver object over the same root. */
  up(): Driver;
  /**
   * Seen from outside any driver object: has the instance's program ended
   * (conmon's exit file, a powered-off guest on QEMU's console)? Absent where
   * nothing outside the driver shows it: the case waits out the program's time.
   */
  ended?(inst: Instance): Promise<boolean>;
  /** Everything the fixture made: instances left over, the root. */
  cleanup(): Promise<void>;
}

export interface DriverSuiteOptions {
  /** Case titles this driver skips, each with its reason (shown in the test's title). */
  skip?: Record<string, string>;
  /** How long one start takes to reach a ready program (a VM's boot); every wait and timeout scales with it. */
  bootMs?: number;
}

/** The argv of a program for a kind that runs an image's commands (a container, a VM-isolated container). */
export function programArgv(p: Program): string[] {
  const sh = (script: string) => ['sh', '-c', script];
  switch (p.kind) {
    case 'exit':
      if (p.afterMs) return sh(`echo ${READY_LINE}; sleep ${p.afterMs / 1000}; exit ${p.code}`);
      return sh(`${p.leaveChild ? 'sleep 3600 & ' : ''}exit ${p.code}`);
    case 'sleep':
      // As `docker stop` expects of a well-behaved PID 1: a handler for TERM.
      return sh(`trap 'exit 0' TERM; echo ${READY_LINE}; while :; do sleep 0.1; done`);
    case 'ignore-term':
      return sh(`trap '' TERM; echo ${READY_LINE}; while :; do sleep 0.1; done`);
    case 'shell':
      return sh(`echo ${READY_LINE}; exec sh`);
    case 'missing':
      return ['/no/such/command'];
  }
}
