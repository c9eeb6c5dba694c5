import { mkdir } from 'node:fs/promises';
import type { Instance } from '../core/instance.js';
import type { Logger } from '../engine/logger.js';
import { QemuDriver } from '../runtime/qemu/driver.js';
import { loadGuest } from '../runtime/qemu/guest.js';
import { VmImages } from '../runtime/qemu/images.js';
import { IsolatedDriver } from '../runtime/qemu/isolated-driver.js';

export interface VmSetup {
  driver?: QemuDriver;
  /** VM-isolated containers (`run --isolation vm`). */
  isolated?: IsolatedDriver;
  images?: VmImages;
  /** Why VMs are unavailable (the guest is not built); containers work regardless. */
  unavailable?: string;
  /** The uid a VM's (or a VM-isolated container's) taps belong to: its QEMU's. */
  tapOwner?: (inst: Instance) => Promise<number | undefined>;
}

/**
 * VMs at daemon start: debian-min registered from the built guest. Without a
 * built guest the daemon still starts; every VM request (and --isolation vm)
 * then says to run `npm run setup`.
 */
export async function startVms(root: string, exitDir: string, log: Logger): Promise<VmSetup> {
  await mkdir(`${root}/ivm`, { recursive: true, mode: 0o700 });
  const images = new VmImages(root);
  try {
    await images.ensureBuiltin(await loadGuest());
  } catch (e) {
    const unavailable = `virtual machines are unavailable: the guest (kernel, initramfs, debian-min) is not built: run \`npm run setup\` (${(e as Error).message})`;
    log.warn({ err: String(e) }, 'VMs unavailable: run `npm run setup`');
    return { unavailable };
  }
  const isolated = new IsolatedDriver({ root, exitDir });
  await isolated.prune().catch((e) => log.warn({ err: String(e) }, 'isolated containers: base images not pruned'));
  const driver = new QemuDriver({ root, images, exitDir });
  const tapOwner = (inst: Instance) => (inst.type === 'vm' ? driver.tapOwner(inst) : isolated.tapOwner(inst));
  return { driver, isolated, images, tapOwner };
}
