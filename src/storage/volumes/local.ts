import { mkdir } from 'node:fs/promises';
import { HullError, invalid } from '../../core/errors.js';
import { isMounted, mount, unmount } from './mounts.js';
import type { VolumePaths } from './paths.js';

/**
 * Local volumes, as docker's `local` driver: a directory, <root>/volumes/<id>/_data,
 * bind-mounted into each container that uses it. docker's options:
 *
 *   --opt type=tmpfs --opt device=tmpfs [--opt o=size=64m,uid=1000]
 *       a tmpfs mounted on _data while a container uses it (its files go
 *       when the last one stops, as docker's); `size=` is its limit
 *   --opt type=none --opt o=bind --opt device=/host/dir
 *       a host directory mounted on _data while in use
 *
 * Other filesystem types (nfs, a block device) are refused: use a block volume.
 */
const O_WORDS = /^[a-zA-Z0-9_=.,:-]*$/;

export function checkOptions(opts: Record<string, string>): void {
  for (const k of Object.keys(opts)) if (!['type', 'device', 'o'].includes(k)) throw invalid(`local volume option "${k}" is not known (type, device, o)`);
  const type = opts.type;
  if (type === undefined) {
    if (opts.device || opts.o) throw invalid('local volume options device and o need type (tmpfs, or none with o=bind)');
    return;
  }
  if (!O_WORDS.test(opts.o ?? '')) throw invalid(`local volume option o=${JSON.stringify(opts.o)}: letters, digits and = , . : _ - only`);
  if (type === 'tmpfs') return;
  if (type === 'none' && (opts.o ?? '').split(',').some((w) => w === 'bind' || w === 'rbind')) {
    if (!opts.device?.startsWith('/') || opts.device.includes('\0')) throw invalid('a bind local volume needs device=/absolute/host/path');
    return;
  }
  throw invalid(`local volume type "${type}" is not supported: use tmpfs, none with o=bind, or a block volume (--driver block)`);
}

/** Does the directory need a mount while in use (tmpfs, bind)? */
export const mounted = (opts: Record<string, string>): boolean => opts.type !== undefined;

export async function create(p: VolumePaths): Promise<void> {
  await mkdir(p.data, { recursive: true, mode: 0o755 });
}

export async function hostMount(p: VolumePaths, name: string): Promise<void> {
  const o = p.v.options;
  if (!o.type || (await isMounted(p.data))) return;
  await mkdir(p.data, { recursive: true, mode: 0o755 });
  if (o.type === 'tmpfs') {
    await mount(['-t', 'tmpfs', '-o', ['nosuid', 'nodev', ...(o.o ? [o.o] : [])].join(','), 'tmpfs', p.data], `volume ${name}`);
    return;
  }
  const words = (o.o ?? '').split(',').filter((w) => w && w !== 'bind' && w !== 'rbind');
  await mount(['--rbind', ...(words.length ? ['-o', words.join(',')] : []), o.device!, p.data], `volume ${name}`).catch((e: unknown) => {
    throw e instanceof HullError ? e.wrap(`its device ${o.device}`) : e;
  });
}

export async function hostUnmount(p: VolumePaths): Promise<void> {
  if (p.v.options.type) await unmount(p.data, { recursive: true });
}
