import { spawn } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { chmod, chown, lstat, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError } from '../../core/errors.js';
import type { VmShare } from '../../storage/volumes/instance-volumes.js';
import { pidAlive } from '../../sys/run.js';
import type { QemuUser } from './confine.js';
import { sharedDir } from './devices.js';
import { shQuote } from './config-tar.js';

/**
 * Host directories shared into a VM-isolated container's guest over virtiofs
 * (its local volumes and binds): one virtiofsd per share, serving one QEMU.
 *
 *   start    virtiofsd binds <dir>/vfs<N>.sock (root's, 0600), Hull hands the
 *            socket to the QEMU's uid, then QEMU starts and connects (vhost-user;
 *            the guest's RAM is a shared memfd, machine.ts). Only once QEMU is
 *            connected does virtiofsd read anything from it, and before that it
 *            has sandboxed itself (below).
 *   run      the guest mounts the tag (hv<N>) at the mount's target (guestShareScript);
 *            virtiofsd performs its file requests in the shared directory
 *   exit     QEMU goes, the connection closes, virtiofsd exits by itself;
 *            `stopShares` makes sure (release, rm, the next start)
 *
 * virtiofsd runs as root, since it writes files as the container's uids (the
 * guest's root makes root's files in a volume, as a plain container does), and
 * confines itself before serving: new mount, pid and network namespaces with
 * the shared directory pivoted to as `/` (a path or symlink the guest sends
 * resolves inside it, `..` of its root is itself), its seccomp filter, and
 * only the capabilities file serving needs, less CAP_MKNOD (no device node
 * can be made in a host directory: fifos and sockets can) and CAP_SETFCAP;
 * no xattrs (so no file capabilities). A read-only mount is a read-only bind
 * on the host (instance-volumes.ts), which virtiofsd's own bind inherits: the
 * guest's root gets EROFS whatever it mounts. docs/vm.md, "Local volumes and binds".
 *
 * Debian 12's virtiofsd is QEMU 7.2's C one, in qemu-system-common
 * (/usr/lib/qemu/virtiofsd); HULL_VIRTIOFSD names another of the same kind.
 */
export const VIRTIOFSD = process.env.HULL_VIRTIOFSD ?? '/usr/lib/qemu/virtiofsd';

const START_TIMEOUT_MS = 10_000;

export const shareTag = (i: number): string => `hv${i}`;
export const shareSocket = (dir: string, i: number): string => join(dir, `vfs${i}.sock`);
const sharePid = (dir: string, i: number): string => join(dir, `vfs${i}.pid`);
const shareLog = (dir: string, i: number): string => join(dir, `vfs${i}.log`);

/** Refused at create when the host has no virtiofsd (a container with local volumes or binds could never start). */
export function checkVirtiofsd(): void {
  if (!existsSync(VIRTIOFSD)) {
    throw new HullError('unavailable', `local volumes and binds in a VM-isolated container need virtiofsd (${VIRTIOFSD}, Debian's qemu-system-common): run \`npm run setup\``);
  }
}

/** QEMU's side: the vhost-user-fs cards, one per share, each on its virtiofsd's socket. */
export function shareArgs(dir: string, shares: VmShare[]): string[] {
  return shares.flatMap((_, i) => sharedDir(`vfs${i}`, shareSocket(dir, i), shareTag(i)));
}

/** The argv of one share's virtiofsd. */
export function virtiofsdArgv(socket: string, source: string, nofile: number): string[] {
  if (/[,\\]/.test(source)) throw new HullError('internal', `${source}: a shared directory's path may not hold a comma or a backslash (virtiofsd's option syntax)`);
  return [
    VIRTIOFSD,
    `--socket-path=${socket}`,
    '-o', `source=${source}`,
    '-o', 'sandbox=namespace',
    '-o', 'cache=auto',
    '-o', 'no_xattr',
    '-o', 'modcaps=-mknod:-setfcap',
    // Warnings and errors only: nothing a guest does fills the log (vfsN.log) with lines.
    '-o', 'log_level=warn',
    // Its default raises the limit past what root may here (no CAP_SYS_RESOURCE) and fails: the hard limit is what it gets.
    `--rlimit-nofile=${nofile}`,
  ];
}

/**
 * Each share's virtiofsd started, its socket bound and handed to QEMU's user;
 * `placed` puts each in the instance's cgroup (its later children follow).
 * Returns their pids; on failure none is left running.
 */
export async function startShares(dir: string, shares: VmShare[], user: QemuUser | undefined, placed?: (pid: number) => Promise<unknown>): Promise<number[]> {
  await stopShares(dir);
  if (!shares.length) return [];
  checkVirtiofsd();
  const pids: number[] = [];
  try {
    const nofile = await hardNofile();
    for (const [i, s] of shares.entries()) {
      const socket = shareSocket(dir, i);
      const pid = await spawnDetached(virtiofsdArgv(socket, s.source, nofile), shareLog(dir, i));
      pids.push(pid);
      await writeFile(sharePid(dir, i), `${pid}\n`);
      await bound(socket, pid, shareLog(dir, i));
      if (user) await chown(socket, user.uid, user.gid);
      await chmod(socket, 0o600);
      await placed?.(pid).catch(() => undefined);
    }
    return pids;
  } catch (e) {
    await stopShares(dir);
    throw e;
  }
}

/** Every virtiofsd of the instance gone (SIGTERM, then SIGKILL), its socket and pidfile removed. */
export async function stopShares(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    const m = /^vfs(\d+)\.pid$/.exec(n);
    if (!m) continue;
    const i = Number(m[1]);
    const pid = Number((await readFile(join(dir, n), 'utf8').catch(() => '')).trim());
    if (pid > 0) await terminate(pid, shareSocket(dir, i));
    await rm(shareSocket(dir, i), { force: true });
    await rm(join(dir, n), { force: true });
  }
}

/**
 * The guest's side, for run.sh (guest/run): one share mounted at its target
 * under /newroot; a file (a bind of a single file) is shared as the only entry
 * of a directory, mounted out of sight and bound onto the target.
 */
export function guestShareScript(s: VmShare, tag: string): string {
  const opts = s.readOnly ? ' -o ro' : '';
  const t = shQuote(`/newroot${s.target}`);
  if (!s.file) return `mkdir -p ${t} && mount -t virtiofs${opts} ${tag} ${t} || exit 125\n`;
  const hidden = `/run/hull/fs/${tag}`;
  return [
    `mkdir -p ${hidden} && mount -t virtiofs${opts} ${tag} ${hidden} || exit 125`,
    `mkdir -p "$(dirname ${t})" && { [ -e ${t} ] || touch ${t}; } && mount --bind ${hidden}/f ${t} || exit 125`,
  ].join('\n') + '\n';
}

/** The socket exists (bound by virtiofsd, which then waits for QEMU); its log is the error if it exits first. */
async function bound(socket: string, pid: number, log: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const st = await lstat(socket).catch(() => undefined);
    if (st?.isSocket() && st.uid === 0) return;
    if (st && !st.isSocket()) throw new HullError('internal', `${socket} is not a socket`);
    if (!pidAlive(pid) || Date.now() > deadline) {
      const said = (await readFile(log, 'utf8').catch(() => '')).trim();
      throw new HullError('internal', `virtiofsd ${pidAlive(pid) ? `did not bind ${socket} within ${START_TIMEOUT_MS / 1000} s` : 'exited at start'}${said ? `: ${said}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Detached (outliving Hull, as QEMU does), stdout and stderr into `log`. */
async function spawnDetached(argv: string[], log: string): Promise<number> {
  const fh = await open(log, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  try {
    return await new Promise<number>((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', fh.fd, fh.fd] });
      child.once('error', (e: NodeJS.ErrnoException) => reject(new HullError(e.code === 'ENOENT' ? 'unavailable' : 'internal', `${argv[0]}: ${e.code === 'ENOENT' ? 'not installed (npm run setup)' : e.message}`)));
      child.once('spawn', () => {
        child.unref();
        resolve(child.pid!);
      });
    });
  } finally {
    await fh.close();
  }
}

/** Only a process still running virtiofsd on this socket is signalled (a pid may have been recycled). */
async function terminate(pid: number, socket: string): Promise<void> {
  const ours = async () => pidAlive(pid) && (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes(`--socket-path=${socket}\0`);
  for (const [sig, waitMs] of [['SIGTERM', 2000], ['SIGKILL', 5000]] as const) {
    if (!(await ours())) return;
    try {
      process.kill(pid, sig);
    } catch {
      return;
    }
    for (const end = Date.now() + waitMs; Date.now() < end && (await ours()); ) await new Promise((r) => setTimeout(r, 20));
  }
  if (await ours()) throw new HullError('internal', `virtiofsd (pid ${pid}) did not exit after SIGKILL`);
}

/** The hard RLIMIT_NOFILE this process (and so virtiofsd) has. */
async function hardNofile(): Promise<number> {
  const m = /^Max open files\s+\S+\s+(\d+|unlimited)/m.exec(await readFile('/proc/self/limits', 'utf8').catch(() => ''));
  return m && m[1] !== 'unlimited' ? Number(m[1]) : 1_048_576;
}
