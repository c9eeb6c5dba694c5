import { open, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { HullError } from '../../core/errors.js';
import { pidAlive, run } from '../../sys/run.js';
import { isMounted, mount, unmount } from './mounts.js';
import type { VolumePaths } from './paths.js';

/**
 * Block volumes: a disk file made with qemu-img (qcow2 by default, raw with
 * `--opt format=raw`). A VM gets the file as a virtio disk; containers get
 * its ext4 mounted once on the host and bind-mounted into each of them.
 *
 * Mounting on the host a filesystem a guest wrote hands the host kernel's
 * ext4 driver bytes an attacker may have crafted. So before every host mount:
 * the disk must be blank (never written: Hull formats it ext4 then) or hold
 * ext4 (its superblock's magic), `e2fsck -f -p` must find it clean or repair
 * it without asking (a crafted superblock or inode table is refused, not
 * mounted), and the mount is nosuid,nodev (no set-uid program or device node
 * a guest planted works on the host side). e2fsck narrows the attack surface;
 * it does not close it: docs/storage.md says so, and that a VM-isolated
 * container is the way to read a disk from an untrusted guest.
 *
 * A qcow2 disk reaches the loop driver as raw bytes through a FUSE export
 * of qemu-storage-daemon (the kernel has no nbd here); a raw one directly.
 */
const MKFS_TIMEOUT = 300_000;

export async function create(p: VolumePaths, sizeBytes: number): Promise<void> {
  await mkdir(p.dir, { recursive: true, mode: 0o711 });
  await run(['qemu-img', 'create', '-q', '-f', p.format, p.disk, String(sizeBytes)], { timeoutMs: 60_000 });
}

/** The ext4 of a block volume mounted at p.mnt (made ext4 first when blank); idempotent. */
export async function hostMount(p: VolumePaths, name: string): Promise<void> {
  if (await isMounted(p.mnt)) return;
  const dev = p.format === 'qcow2' ? await exportRaw(p) : p.disk;
  try {
    const fs = await probe(dev);
    if (fs === 'other') throw new HullError('invalid', `block volume ${name} holds something that is not ext4 (a guest's own filesystem or partition table): Hull mounts only ext4 in containers; use it in a VM`);
    if (fs === 'blank') await run(['mkfs.ext4', '-q', '-F', '-E', 'nodiscard', '-L', name.slice(0, 16), dev], { timeoutMs: MKFS_TIMEOUT });
    else await fsck(dev, name);
    await mkdir(p.mnt, { recursive: true, mode: 0o755 });
    await mount(['-t', 'ext4', '-o', 'loop,nosuid,nodev,errors=remount-ro', dev, p.mnt], `block volume ${name}`);
  } catch (e) {
    await stopExport(p);
    throw e;
  }
}

/** Make a blank disk ext4 without mounting it (for a guest that mounts it): nothing is done to one already written. */
export async function format(p: VolumePaths, name: string): Promise<void> {
  if (await isMounted(p.mnt)) return;
  const dev = p.format === 'qcow2' ? await exportRaw(p) : p.disk;
  try {
    if ((await probe(dev)) === 'blank') await run(['mkfs.ext4', '-q', '-F', '-E', 'nodiscard', '-L', name.slice(0, 16), dev], { timeoutMs: MKFS_TIMEOUT });
  } finally {
    await stopExport(p);
  }
}

export async function hostUnmount(p: VolumePaths): Promise<void> {
  await unmount(p.mnt);
  await stopExport(p);
}

/** Is the filesystem mounted on the host now (containers hold it)? */
export const hostMounted = (p: VolumePaths): Promise<boolean> => isMounted(p.mnt);

/**
 * ext4's magic at 1080, or nothing written in the first MiB (blank), or
 * something else. A disk a guest partitioned or formatted otherwise is "other".
 */
async function probe(dev: string): Promise<'ext4' | 'blank' | 'other'> {
  const fh = await open(dev, 'r');
  try {
    const head = Buffer.alloc(1024 * 1024);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead >= 1082 && head.readUInt16LE(1080) === 0xef53) return 'ext4';
    return head.subarray(0, bytesRead).every((b) => b === 0) ? 'blank' : 'other';
  } finally {
    await fh.close();
  }
}

/** e2fsck -f -p: 0 clean, 1-2 repaired; anything else is refused. */
async function fsck(dev: string, name: string): Promise<void> {
  const r = await run(['e2fsck', '-f', '-p', dev], { allowFailure: true, timeoutMs: MKFS_TIMEOUT });
  if (r.code <= 2) return;
  const why = (r.stdout + r.stderr).trim().split('\n').slice(-3).join('; ');
  throw new HullError('invalid', `block volume ${name}: its ext4 has errors e2fsck -p would not repair (${why || `exit ${r.code}`}); not mounting it on the host`);
}

/** qemu-storage-daemon serving the qcow2 as a raw file at p.fuseExport (daemonized: it outlives Hull with the containers). */
async function exportRaw(p: VolumePaths): Promise<string> {
  await stopExport(p);
  await writeFile(p.fuseExport, '', { mode: 0o600 });
  const file = JSON.stringify({ driver: 'file', 'node-name': 'f', filename: p.disk });
  const fmt = JSON.stringify({ driver: 'qcow2', 'node-name': 'q', file: 'f' });
  const exp = `type=fuse,id=e,node-name=q,mountpoint=${p.fuseExport.replace(/,/g, ',,')},writable=on`;
  await run(['qemu-storage-daemon', '--blockdev', file, '--blockdev', fmt, '--export', exp, '--pidfile', p.qsdPid, '--daemonize'], { timeoutMs: 60_000 });
  return p.fuseExport;
}

async function stopExport(p: VolumePaths): Promise<void> {
  const pid = Number((await readFile(p.qsdPid, 'utf8').catch(() => '')).trim());
  if (pid && pidAlive(pid) && (await isQsd(pid))) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 200 && pidAlive(pid); i++) await new Promise((r) => setTimeout(r, 25));
    if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  await unmount(p.fuseExport);
  await rm(p.qsdPid, { force: true });
  await rm(p.fuseExport, { force: true });
}

async function isQsd(pid: number): Promise<boolean> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes('qemu-storage-daemon');
}
