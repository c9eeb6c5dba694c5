import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HullError } from '../../core/errors.js';

/**
 * Hull's guest, as scripts/build-guest.ts leaves it in build/guest/:
 *   vmlinuz             the Debian cloud kernel, taken from its package
 *   initrd.gz           busybox, the virtio modules, /init, the agent
 *   debian-min.qcow2    the default VM base disk (ext4: busybox, the agent, resize2fs)
 *   guest.json          this manifest
 */
export interface GuestManifest {
  kernelPackage: string;
  kernelRelease: string;
  /** Hash of everything the build read; the build is skipped while it matches. */
  inputs: string;
  kernel: string;
  initrd: string;
  baseDisk: string;
  builtAt: string;
}

/** The guest files, as absolute paths. */
export interface GuestArtifacts {
  dir: string;
  kernelRelease: string;
  /** The build's input hash: changes whenever kernel, busybox or guest scripts do. */
  inputs: string;
  kernel: string;
  initrd: string;
  baseDisk: string;
}

export const MANIFEST = 'guest.json';

/** The serial-console line the guest prints once it has booted (stage 2 done, agent starting). */
export const READY_MARKER = 'HULL_GUEST_READY';

/** The repository root: the nearest directory above this file holding package.json (from src/ or dist/src/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new HullError('internal', 'cannot find the repository root');
    dir = up;
  }
  return dir;
}

export const defaultGuestDir = (): string => process.env.HULL_GUEST_DIR ?? join(repoRoot(), 'build', 'guest');

export async function loadGuest(dir = defaultGuestDir()): Promise<GuestArtifacts> {
  let m: GuestManifest;
  try {
    m = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as GuestManifest;
  } catch {
    throw new HullError('unavailable', `Hull's VM guest is not built (no ${join(dir, MANIFEST)}): run \`npm run setup\``);
  }
  const a = { dir, kernelRelease: m.kernelRelease, inputs: m.inputs, kernel: resolve(dir, m.kernel), initrd: resolve(dir, m.initrd), baseDisk: resolve(dir, m.baseDisk) };
  for (const f of [a.kernel, a.initrd, a.baseDisk]) {
    if (!existsSync(f)) throw new HullError('unavailable', `Hull's VM guest is incomplete (${f} is missing): run \`npm run setup\``);
  }
  return a;
}
