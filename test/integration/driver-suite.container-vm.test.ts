import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadGuest } from '../../src/runtime/qemu/guest.js';
import { IsolatedDriver } from '../../src/runtime/qemu/isolated-driver.js';
import { busyboxLayers } from '../../src/runtime/qemu/testing.js';
import { driverSuite, type DriverFixture } from '../../src/runtime/testsuite/driver-suite.js';
import { containerRecord } from '../../src/runtime/testsuite/records.js';

/**
 * The Driver conformance suite on VM-isolated containers (`--isolation vm`):
 * a busybox image's layers as the container's disk, its program in a small
 * VM of its own under real QEMU (TCG here) with Hull's kernel.
 */
async function isolatedFixture(): Promise<DriverFixture> {
  const root = await mkdtemp('/tmp/hull-ds-ivm-');
  await mkdir(join(root, 'ivm'), { recursive: true, mode: 0o700 });
  const guest = await loadGuest();
  const layerDirs = await busyboxLayers(join(root, 'image'));
  const make = () => new IsolatedDriver({ root, exitDir: join(root, 'exits'), guest: async () => guest });
  let driver = make();
  return {
    get driver() {
      return driver;
    },
    instance: (name, program) => containerRecord(name, program, { runtime: 'crun', isolation: 'vm', memoryBytes: 128 << 20 }),
    context: () => ({ layerDirs }),
    down: () => driver.close(),
    up: () => (driver = make()),
    // No `ended`: a program's end shows only on its ports, which wait for the next driver.
    cleanup: async () => {
      await driver.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

const QEMU_RSS = "memoryUsage is QEMU's resident memory (the guest RAM it has touched, plus QEMU's own: devices, TCG's code cache), memoryLimit the guest's RAM; the API says so (memoryCounted: qemu-rss) and `hull stats` shows MEM % as --";

driverSuite('container-vm (QEMU)', isolatedFixture, {
  bootMs: 30_000,
  skip: {
    'stats: the memory used is within the limit': QEMU_RSS,
  },
});
