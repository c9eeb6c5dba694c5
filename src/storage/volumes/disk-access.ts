import { chmod, chown, lstat } from 'node:fs/promises';
import { HullError } from '../../core/errors.js';

/**
 * The one place a block volume's disk file is made usable by the QEMU that
 * opens it, and taken back. Each VM's QEMU runs as a uid of its own
 * (runtime/qemu/confine.ts) and opens its disks itself, so while a VM holds
 * the volume the file is that uid's (0600; its directory is root's, 0711:
 * searchable, not writable), and when the VM lets go (detach, exit) it is
 * root's again, so no two VMs' QEMUs ever hold it and a later holder's
 * QEMU cannot be reached by an earlier one. Only the path Hull made is
 * changed, and never through a link (chown would follow one).
 */
export async function grantDisk(path: string, qemuUid?: number): Promise<void> {
  if (qemuUid === undefined) return; // QEMU runs as Hull's own user (Hull is not root)
  await own(path, qemuUid, 0o600);
}

export async function revokeDisk(path: string): Promise<void> {
  if (!path || process.getuid?.() !== 0) return;
  await own(path, 0, 0o600);
}

async function own(path: string, uid: number, mode: number): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isFile() || st.nlink !== 1) throw new HullError('internal', `${path} is not a regular file of its own (a link?): refusing to hand it to QEMU`);
  if (st.uid !== uid || st.gid !== uid) await chown(path, uid, uid);
  if ((st.mode & 0o777) !== mode) await chmod(path, mode);
}
