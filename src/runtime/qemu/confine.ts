import { constants } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';
import { HullError } from '../../core/errors.js';
import type { Accel } from './accel.js';
import type { VmFiles } from './files.js';
import type { QemuUids } from './uids.js';

/**
 * QEMU runs as an unprivileged user of its own (uids.ts), from its first
 * instruction: `setpriv` sets the uid and gid, no supplementary groups (but
 * /dev/kvm's, where that is how KVM is reached), no capabilities (bounding set
 * included) and no_new_privs before it execs QEMU; QEMU then installs its
 * seccomp filter with every group denied (machine.ts). Nothing is opened on
 * QEMU's behalf, so whatever it opens must be open to that uid, and nothing
 * else of Hull's may be:
 *
 *   <vm dir>            root:<gid> 0710   QEMU may enter, not write: the files Hull writes as root
 *                                          (vm.json, exit.json, qemu.pid, the sockets' final names)
 *                                          cannot be swapped for links by a QEMU that was broken into
 *   disk.qcow2, console.log    <uid> 0600   written by QEMU
 *   config.tar, seed.iso       root:<gid> 0640   read by QEMU
 *   q/                  <uid> 0700        where QEMU binds its sockets; Hull moves each to the VM
 *                                          directory once bound (process.ts), so it connects only to
 *                                          paths QEMU cannot change
 *   backing images, the kernel and initramfs: readable by all (0644, directories searchable)
 *
 * Only paths Hull chose are changed here (vm.json's image, the rootfs cache's
 * key), never a name read from a file QEMU can write (a disk's backing file).
 */
export interface QemuUser {
  uid: number;
  gid: number;
  /** Supplementary groups: /dev/kvm's group where KVM is used through it. */
  groups: number[];
}

export const SETPRIV = 'setpriv';

/** The VM's own user (claimed at the first ask), or none when Hull is not root: QEMU then runs as Hull's user. */
export async function qemuUser(uids: QemuUids, files: VmFiles, accel: Accel): Promise<QemuUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = await uids.claim(files.dir);
  return { uid, gid: uid, groups: accel === 'kvm' ? ((await kvmGroups()) ?? []) : [] };
}

/** The argv prefix that runs a program as `u` (nothing when Hull itself is not root: QEMU then runs as Hull's user). */
export function asUser(u: QemuUser | undefined): string[] {
  if (!u) return [];
  const groups = u.groups.length ? `--groups=${u.groups.join(',')}` : '--clear-groups';
  return [SETPRIV, `--reuid=${u.uid}`, `--regid=${u.gid}`, groups, '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'];
}

export interface VmPaths {
  /** Files QEMU writes (created empty when missing). */
  rw: string[];
  /** Files of this VM QEMU only reads. */
  ro: string[];
  /** Files shared with other VMs that QEMU only reads (backing images), each under `root`. */
  shared: string[];
  /** Hull's state root: directories from the VM's up to it are made searchable. */
  root: string;
}

/** The VM's directory and files as the table above says. */
export async function prepareVmFiles(files: VmFiles, u: QemuUser, p: VmPaths): Promise<void> {
  const dir = await lstat(files.dir);
  if (!dir.isDirectory() || dir.uid !== 0 || dir.gid !== u.gid) throw new HullError('internal', `${files.dir}: not the VM's directory (root:${u.gid}) as claimed`);
  await searchableUpTo(dirname(files.dir), p.root);
  for (const f of p.rw) await own(f, u.uid, u.gid, 0o600, true);
  for (const f of p.ro) await own(f, 0, u.gid, 0o640, false);
  for (const f of p.shared) await readableByAll(f, p.root);
}

/** The bind directory, fresh and empty, QEMU's (just before it starts: nothing of an earlier run is found there). */
export async function freshBindDir(files: VmFiles, u: QemuUser): Promise<void> {
  await rm(files.bindDir, { recursive: true, force: true });
  await mkdir(files.bindDir, { mode: 0o700 });
  await chown(files.bindDir, u.uid, u.gid);
}

/**
 * A regular file of the VM's with this owner and mode: never a symbolic or a
 * hard link (chown would follow either to whatever it names); made empty when
 * missing and `create`; left to QEMU to report when missing otherwise.
 */
async function own(path: string, uid: number, gid: number, mode: number, create: boolean): Promise<void> {
  let st = await lstat(path).catch(() => undefined);
  if (!st && create) {
    await (await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode)).close();
    st = await lstat(path);
  }
  if (!st) return;
  if (!st.isFile() || st.nlink !== 1) throw new HullError('internal', `${path} is not a regular file of its own (a link?): refusing to hand it to QEMU`);
  if (st.uid !== uid || st.gid !== gid) await chown(path, uid, gid);
  if ((st.mode & 0o777) !== mode) await chmod(path, mode);
}

/** o+r on the file and o+x on each directory from it up to `root`. */
async function readableByAll(path: string, root: string): Promise<void> {
  if (!isUnder(path, root)) throw new HullError('internal', `${path} is not under ${root}: Hull does not change its mode`);
  const st = await lstat(path).catch(() => undefined);
  if (!st) return; // QEMU says it is missing, in its own words
  if (!st.isFile()) throw new HullError('internal', `${path} is not a regular file`);
  if ((st.mode & 0o004) === 0) await chmod(path, (st.mode & 0o777) | 0o004);
  await searchableUpTo(dirname(path), root);
}

/** o+x on each directory from `dir` up to `root`, `root` included (the daemon keeps it 0711 anyway). */
async function searchableUpTo(dir: string, root: string): Promise<void> {
  for (let d = dir; isUnder(d, root); d = dirname(d)) {
    const st = await stat(d);
    if ((st.mode & 0o001) === 0) await chmod(d, (st.mode & 0o777) | 0o011);
    if (d === root) break;
  }
}

const isUnder = (path: string, root: string): boolean => {
  const r = relative(root, path);
  return r === '' || (!r.startsWith(`..${sep}`) && r !== '..' && !r.startsWith(sep));
};

/**
 * /dev/net/tun, which QEMU opens for each tap card (at start and for a card
 * added later): every distribution's udev makes it 0666, safe by design (a
 * process without CAP_NET_ADMIN can only attach to a tap it owns, and Hull
 * makes each VM's taps owned by its uid). A host without udev leaves it
 * 0600 root; Hull then gives it udev's mode.
 */
export const TUN = '/dev/net/tun';

export async function tunUsable(): Promise<void> {
  const st = await stat(TUN).catch(() => undefined);
  if (!st) throw new HullError('unavailable', `${TUN} is missing: VMs on a network need the tun driver`);
  if ((st.mode & 0o006) !== 0o006) await chmod(TUN, (st.mode & 0o777) | 0o666);
}

/**
 * How an unprivileged QEMU reaches /dev/kvm: no extra group when it is open
 * to all (0666), its group when that group (not root's) may read and write it
 * (udev's root:kvm 0660), undefined when only root may (then QEMU cannot use KVM).
 */
export async function kvmGroups(path = '/dev/kvm'): Promise<number[] | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (!st) return undefined;
  if ((st.mode & 0o006) === 0o006) return [];
  if (st.gid !== 0 && (st.mode & 0o060) === 0o060) return [st.gid];
  return undefined;
}
