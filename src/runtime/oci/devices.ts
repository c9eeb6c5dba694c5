import type { Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { HullError, invalid } from '../../core/errors.js';
import type { DeviceMapping } from '../../core/security.js';
import type { SpecDevice } from './spec.js';

/**
 * Host device nodes for a container's /dev: one `--device` (a node, or every
 * node under a directory, as docker does), or all of them for --privileged.
 * Read on the daemon's host when the container starts, so a node that has
 * gone since create is a clear error, not a runtime failure.
 */

/** Directories and nodes of /dev that are the container's own, never the host's (runc's HostDevices skips the same). */
const SKIP_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);
const SKIP_NODES = new Set(['console', 'ptmx']);
const MAX_NODES = 4096;

/** Linux's dev_t split (glibc gnu_dev_major/minor); st.rdev fits a double exactly for any real device. */
export function splitDev(rdev: number): { major: number; minor: number } {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  const major = ((lo >>> 8) & 0xfff) | (hi & ~0xfff);
  const minor = (lo & 0xff) | (((lo >>> 12) | (hi << 20)) & ~0xff);
  return { major: major >>> 0, minor: minor >>> 0 };
}

function nodeOf(st: Stats, path: string, access: string): SpecDevice | undefined {
  if (!st.isCharacterDevice() && !st.isBlockDevice()) return undefined;
  const { major, minor } = splitDev(st.rdev);
  return { path, type: st.isCharacterDevice() ? 'c' : 'b', major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid, access };
}

/** The nodes one `--device` gives: the node itself, or each node under a directory at the same place under containerPath. */
export async function mappedDevices(m: DeviceMapping): Promise<SpecDevice[]> {
  const st = await stat(m.hostPath).catch((e: NodeJS.ErrnoException) => {
    throw new HullError(e.code === 'ENOENT' ? 'not_found' : 'invalid', `--device ${m.hostPath}: ${e.code === 'ENOENT' ? 'no such device on the host' : e.message}`);
  });
  if (!st.isDirectory()) {
    const node = nodeOf(st, m.containerPath, m.permissions);
    if (!node) throw invalid(`--device ${m.hostPath}: not a character or block device`);
    return [node];
  }
  const nodes = await walk(m.hostPath, new Set(), m.permissions);
  return nodes.map((n) => ({ ...n, path: join(m.containerPath, relative(m.hostPath, n.path)) }));
}

/** Every device node of the host's /dev, where the container sees them (--privileged). */
export async function hostDevices(): Promise<SpecDevice[]> {
  return walk('/dev', SKIP_DIRS, 'rwm');
}

async function walk(dir: string, skipDirs: Set<string>, access: string, out: SpecDevice[] = []): Promise<SpecDevice[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (!skipDirs.has(e.name)) await walk(path, skipDirs, access, out);
      continue;
    }
    if ((!e.isCharacterDevice() && !e.isBlockDevice()) || (dir === '/dev' && SKIP_NODES.has(e.name))) continue;
    const st = await stat(path).catch(() => undefined);
    const node = st && nodeOf(st, path, access);
    if (node) out.push(node);
    if (out.length > MAX_NODES) throw invalid(`${dir}: more than ${MAX_NODES} device nodes`);
  }
  return out;
}
