import { chmod, chown, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError } from '../../core/errors.js';

/**
 * QemuUids: the unprivileged user each VM's QEMU runs as, one per VM (its
 * group has the same number), so that two VMs' QEMUs cannot signal, trace or
 * open each other's processes and files.
 *
 *   const uid = await uids.claim('/var/lib/hull/vms/<id>');   // the VM's own, claimed if new
 *   await uids.release('/var/lib/hull/vms/<id>');            // at rm, before the directory goes
 *
 * A uid is a fact of this host, not of the cluster's store: claims are files
 * in a host-wide directory (default /var/lib/hull-qemu-uids), `<uid>` holding
 * the VM directory that owns it, made with O_EXCL under a lock, so two daemons
 * on one host (each with its own root and store) never hand out the same uid.
 * The claims persist across reboots: a stopped VM's files still belong to its
 * uid, which must not go to another VM meanwhile. The VM's directory carries
 * its uid as its group (root:<uid>, 0710: only root and that VM's QEMU may
 * enter it); that is what `claim` finds again at the next start. A claim
 * whose directory is gone or belongs to another uid is stale and may be taken
 * over, unless a process still runs as that uid.
 *
 * The range, 2,000,000,000 + 65,536, lies above systemd's container ranges
 * (524288–1879048191) and below 2^31; no user or user-namespace mapping on the
 * host may overlap it.
 */
export const QEMU_UID_BASE = 2_000_000_000;
export const QEMU_UID_COUNT = 65_536;
export const DEFAULT_CLAIMS = '/var/lib/hull-qemu-uids';

/** A lock directory older than this is left over by a process that died holding it. */
const STALE_LOCK_MS = 10_000;

export class QemuUids {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir = DEFAULT_CLAIMS,
    readonly base = QEMU_UID_BASE,
    readonly count = QEMU_UID_COUNT,
  ) {}

  inRange(uid: number): boolean {
    return uid >= this.base && uid < this.base + this.count;
  }

  /**
   * The uid of the VM whose directory is `vmDir` (which must exist): the one
   * it has while still its own, else a new one; the directory's group is set
   * to it (root:<uid>, 0710) before the lock is let go.
   */
  claim(vmDir: string): Promise<number> {
    return this.serial(() =>
      this.locked(async () => {
        const st = await stat(vmDir);
        const cur = this.inRange(st.gid) ? await this.owner(st.gid) : undefined;
        const uid = cur === vmDir || (this.inRange(st.gid) && (await this.take(st.gid, vmDir, cur))) ? st.gid : await this.allocate(vmDir);
        if (st.uid !== 0 || st.gid !== uid) await chown(vmDir, 0, uid);
        if ((st.mode & 0o777) !== 0o710) await chmod(vmDir, 0o710);
        return uid;
      }),
    );
  }

  /** Give the VM's uid back (at rm, while its directory still exists). */
  release(vmDir: string): Promise<void> {
    return this.serial(() =>
      this.locked(async () => {
        const st = await stat(vmDir).catch(() => undefined);
        if (st && this.inRange(st.gid) && (await this.owner(st.gid)) === vmDir) await rm(this.file(st.gid), { force: true });
      }),
    );
  }

  /** The directory a uid is claimed for, if any. */
  async owner(uid: number): Promise<string | undefined> {
    return (await readFile(this.file(uid), 'utf8').catch(() => '')).trim() || undefined;
  }

  private file(uid: number): string {
    return join(this.dir, String(uid));
  }

  /** The lowest uid that is free or whose claim is stale (so claims left by removed roots do not pile up). */
  private async allocate(vmDir: string): Promise<number> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const taken = new Set((await readdir(this.dir)).map(Number).filter((n) => this.inRange(n)));
    for (let uid = this.base; uid < this.base + this.count; uid++) {
      if (taken.has(uid) ? await this.take(uid, vmDir, await this.owner(uid)) : await this.create(uid, vmDir)) return uid;
    }
    throw new HullError('resource', `no unprivileged user left for QEMU: all ${this.count} uids from ${this.base} are in use (claims in ${this.dir})`);
  }

  /** O_EXCL: false if someone else has it. */
  private async create(uid: number, vmDir: string): Promise<boolean> {
    try {
      const fh = await open(this.file(uid), 'wx', 0o600);
      await fh.writeFile(`${vmDir}\n`);
      await fh.close();
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  }

  /**
   * `uid` for `vmDir`, whose claim is `cur`: an unclaimed uid (the VM's own,
   * its claim lost) is claimed; another directory's only when
   * stale and no process runs as that uid. Called under the lock.
   */
  private async take(uid: number, vmDir: string, cur: string | undefined): Promise<boolean> {
    if (cur === vmDir) return true;
    if (!cur) return this.create(uid, vmDir);
    if (!(await isStale(cur, uid)) || (await processRunsAs(uid))) return false;
    await writeFile(`${this.file(uid)}.tmp`, `${vmDir}\n`, { mode: 0o600 });
    await rename(`${this.file(uid)}.tmp`, this.file(uid));
    return true;
  }

  /** Across processes: a lock directory (mkdir is atomic); within this one: a queue. */
  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const lock = join(this.dir, '.lock');
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (let i = 0; ; i++) {
      try {
        await mkdir(lock);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const st = await stat(lock).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) await rmdir(lock).catch(() => undefined);
        if (i > 2000) throw new HullError('unavailable', `${lock} has been held for more than 10 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    try {
      return await fn();
    } finally {
      await rmdir(lock).catch(() => undefined);
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }
}

/** A claim is stale when its directory is gone or no longer carries the uid as its group. */
async function isStale(vmDir: string, uid: number): Promise<boolean> {
  const st = await stat(vmDir).catch(() => undefined);
  return !st || st.gid !== uid;
}

/** Is any process running with this real, effective or saved uid? */
async function processRunsAs(uid: number): Promise<boolean> {
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const status = await readFile(`/proc/${p}/status`, 'utf8').catch(() => '');
    const m = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
    if (m && m.slice(1, 4).map(Number).includes(uid)) return true;
  }
  return false;
}
