import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { detectHost } from '../../src/runtime/host.js';
import { releaseHybridNamespace } from '../../src/runtime/oci/hybrid-ns.js';
import { ContainerDriver } from '../../src/runtime/oci/container-driver.js';
import { crunNamespace, ociRuntimes } from '../../src/runtime/oci/runtimes.js';
import { releaseCrunStdinGuard } from '../../src/runtime/oci/stdin-guard.js';
import { busyboxLayers } from '../../src/runtime/qemu/testing.js';
import { driverSuite, type DriverFixture } from '../../src/runtime/testsuite/driver-suite.js';
import { containerRecord } from '../../src/runtime/testsuite/records.js';
import { detectQuota } from '../../src/storage/quota.js';

/**
 * The Driver conformance suite on the container driver: real crun and real
 * runc under conmon, set up as the daemon sets them up (host detection, the
 * runtimes with the hybrid-cgroup namespace and stdin guard), on a root of
 * their own, a busybox image's layers as the rootfs.
 */
async function containerFixture(runtime: 'crun' | 'runc'): Promise<DriverFixture> {
  const root = await mkdtemp('/tmp/hull-ds-');
  for (const d of ['containers', 'exits', 'exec', 'runtime']) await mkdir(join(root, d), { recursive: true, mode: 0o700 });
  await chmod(root, 0o711);
  await chmod(join(root, 'containers'), 0o711);
  const host = await detectHost();
  if (!host.runtimes[runtime]) throw new Error(`${runtime} is not installed: run npm run setup`);
  host.storage = await detectQuota(join(root, 'containers'));
  const runtimes = await ociRuntimes(root, host, (msg, e) => console.warn(msg, e));
  const layerDirs = await busyboxLayers(join(root, 'image'));
  const make = () => new ContainerDriver({ root, host, runtimes, conmonPath: host.conmon });
  let driver = make();
  return {
    get driver() {
      return driver;
    },
    instance: (name, program) => containerRecord(name, program, { runtime, memoryBytes: 64 << 20 }),
    context: () => ({ layerDirs }),
    // conmon keeps each container; the driver object only lets go of the logs, as a daemon that stops does.
    down: async () => driver.close(),
    up: () => (driver = make()),
    ended: async (inst) => existsSync(join(root, 'exits', inst.id)),
    cleanup: async () => {
      const real = await realpath(root);
      await releaseCrunStdinGuard(real);
      if (crunNamespace(runtimes)) await releaseHybridNamespace(real);
      await rm(root, { recursive: true, force: true });
    },
  };
}

driverSuite('container (crun)', () => containerFixture('crun'), { bootMs: 10_000 });
driverSuite('container (runc)', () => containerFixture('runc'), { bootMs: 10_000 });
