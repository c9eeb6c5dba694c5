import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { QemuDriver } from '../../src/runtime/qemu/driver.js';
import { loadGuest } from '../../src/runtime/qemu/guest.js';
import { VmImages } from '../../src/runtime/qemu/images.js';
import { driverSuite, type DriverFixture } from '../../src/runtime/testsuite/driver-suite.js';
import { vmRecord } from '../../src/runtime/testsuite/records.js';

/**
 * The Driver conformance suite on the QEMU driver: real QEMU (TCG here) and
 * Hull's guest (debian-min). A VM runs no program of the user's, so the cases
 * that need one that exits with a code of its own or a missing command are
 * skipped; every boot costs seconds under TCG, so the cases that only look at
 * a running VM share one.
 */
async function vmFixture(): Promise<DriverFixture> {
  const root = await mkdtemp('/tmp/hull-ds-vm-');
  const guest = await loadGuest();
  const images = new VmImages(root);
  await images.ensureBuiltin(guest);
  const make = () => new QemuDriver({ root, images, guest: async () => guest });
  let driver = make();
  return {
    get driver() {
      return driver;
    },
    instance: (name, program) => vmRecord(name, program, 256 << 20),
    context: () => ({ layerDirs: [] }),
    down: () => driver.close(),
    up: () => (driver = make()),
    // The guest powered off: QEMU waits (-no-shutdown) until a driver records it.
    ended: async (inst) => (await readFile(driver.logPath(inst), 'utf8').catch(() => '')).includes('reboot: Power down'),
    cleanup: async () => {
      await driver.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

const NO_PROGRAM = 'a VM runs no program of its own: its run ends by powering off (0), killed (137), or with a panic, which reboots it (panic=-1)';

const QEMU_RSS = "memoryUsage is QEMU's resident memory (the guest RAM it has touched, plus QEMU's own: devices, TCG's code cache), memoryLimit the guest's RAM; the API says so (memoryCounted: qemu-rss) and `hull stats` shows MEM % as --";

driverSuite('vm (QEMU)', vmFixture, {
  bootMs: 60_000,
  skip: {
    "a program that exits non-zero: exitStatus reports the program's code": NO_PROGRAM,
    'a program that exits leaving a child running: the instance ends with the program, with its code': NO_PROGRAM,
    'stats: the memory used is within the limit': QEMU_RSS,
    'closeStdin is the end of the input: a shell reading it exits 0 once it has run what came before': "a VM's stdin is its serial console, a terminal: its input has no end, and closing it only detaches",
    'a missing command: start fails with command_not_found and leaves nothing running, or the program exits 127': 'a VM runs no command of the user\'s: its image boots',
  },
});
