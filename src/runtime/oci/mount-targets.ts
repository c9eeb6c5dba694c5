import { lstat, mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { resolveInRoot } from '../../storage/rootfs-path.js';

/**
 * Create the files that file bind mounts (/etc/hosts, /etc/resolv.conf,
 * /etc/hostname) land on, as the host's root, before the runtime runs: a
 * runtime in a user namespace cannot create them in an image directory
 * owned by the host's root. Paths resolve inside the rootfs, never outside.
 */
export async function ensureMountTargets(rootfs: string, mounts: Array<{ destination: string; type: string; options: string[] }>): Promise<void> {
  for (const m of mounts) {
    if (m.type !== 'bind') continue;
    const target = await resolveInRoot(rootfs, m.destination);
    if (await lstat(target).catch(() => undefined)) continue;
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, '', { flag: 'a', mode: 0o644 });
  }
}
