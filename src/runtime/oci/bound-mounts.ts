import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RootMount } from '../../storage/root-dir.js';
import { defaultMounts } from './defaults.js';
import type { OciSpec } from './spec-types.js';

/**
 * The host files and directories bind-mounted into a container when it was
 * last set up (its /etc/hosts, /etc/hostname, /etc/resolv.conf), read from
 * the bundle's config.json: what `hull cp` reads and writes at those paths,
 * as the container sees them. The filesystems every container gets (/proc,
 * /sys, …) are left out: cp sees the rootfs there, as docker's does. None
 * before the first start, and none whose source is gone.
 */
export async function boundMounts(bundle: string): Promise<RootMount[]> {
  const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8').catch(() => 'null')) as OciSpec | null;
  const everyContainers = new Set(defaultMounts({ userns: { size: 1 } }).map((m) => m.destination));
  const binds = (spec?.mounts ?? []).filter((m) => m.type === 'bind' && !everyContainers.has(m.destination));
  const present = await Promise.all(binds.map((m) => stat(m.source).then(() => true, () => false)));
  return binds.filter((_, i) => present[i]).map((m) => ({ destination: m.destination, source: m.source, readonly: (m.options ?? []).includes('ro') }));
}
