import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError, wrongState } from '../../core/errors.js';
import type { ExitStatus, RuntimeStatus } from '../driver.js';
import { removeVmCgroup } from './cgroup.js';
import { asExitStatus, exists, readExit, recordExit } from './exit.js';
import type { VmLinks, VmRef } from './links.js';
import { livePid, terminate, waitGone } from './process.js';
import type { QmpClient } from './qmp/client.js';
import type { QemuUids } from './uids.js';

/**
 * QemuRuns: what both QEMU-backed drivers (QemuDriver for VMs, IsolatedDriver
 * for VM-isolated containers) do with a daemonized QEMU they started, in one
 * place: its status from QMP, how its run ended, a forced stop, release and
 * removal. Each driver passes its own extra steps (the isolated driver's
 * ports) where it has some.
 *
 *   const runs = new QemuRuns(links, exitDir, 'VM');   // the noun its errors name the instance by
 *   await runs.exitStatus(ref);          // undefined while it runs
 *   await runs.hardStop(ref, pid);       // 137, unless an exit was recorded first
 */
export class QemuRuns {
  constructor(
    readonly links: VmLinks,
    readonly exitDir: string,
    /** How errors name the instance: "VM", "container". */
    private readonly noun: string,
    /** Where the instance's QEMU uid is given back at removal. */
    private readonly uids?: QemuUids,
  ) {}

  qmp(vm: VmRef): Promise<QmpClient> {
    return this.links.qmp(vm);
  }

  /** QMP, if QEMU runs. */
  async runningQmp(vm: VmRef): Promise<QmpClient> {
    if (!(await livePid(vm.files))) throw wrongState(`${this.noun} ${vm.name} is not running`);
    return this.qmp(vm);
  }

  /** QMP `stop`: the vCPUs halt, QEMU and the guest's memory stay. */
  async pause(vm: VmRef): Promise<void> {
    await (await this.runningQmp(vm)).execute('stop');
  }

  async resume(vm: VmRef): Promise<void> {
    await (await this.runningQmp(vm)).execute('cont');
  }

  /**
   * Stop: `soft` (the ACPI power button, a signal to the program), then a
   * forced quit after `timeoutSec`; at once for KILL, no timeout, or a QEMU
   * that is not running (paused, shut down).
   */
  async stop(vm: VmRef, timeoutSec: number, signal: string | undefined, soft: () => Promise<void>): Promise<void> {
    const pid = await livePid(vm.files);
    if (!pid) return void (await this.exitStatus(vm));
    const st = await this.links.qmpStatus(vm).catch(() => 'unknown');
    if ((signal && isKill(signal)) || timeoutSec <= 0 || st !== 'running') return this.hardStop(vm, pid);
    await soft();
    if (await waitGone(pid, vm.files, timeoutSec * 1000)) return;
    await this.hardStop(vm, pid);
  }

  /** KILL is a forced quit; any other signal is `other`'s to deliver. */
  async kill(vm: VmRef, signal: string, other: () => Promise<void>): Promise<void> {
    const pid = await livePid(vm.files);
    if (!pid) throw wrongState(`${this.noun} ${vm.name} is not running`);
    if (isKill(signal)) return this.hardStop(vm, pid);
    await other();
  }

  /** Quit QEMU now: exit 137 (unless the instance's own exit was recorded first). */
  async hardStop(vm: VmRef, pid: number): Promise<void> {
    await recordExit(vm.files, this.exitDir, vm.id, 137, 'killed');
    const qmp = await this.qmp(vm).catch(() => undefined);
    await qmp?.execute('quit', undefined, { timeoutMs: 2000 }).catch(() => undefined);
    if (!(await waitGone(pid, vm.files, 5000))) await terminate(pid, vm.files);
  }

  async status(vm: VmRef): Promise<RuntimeStatus> {
    const pid = await livePid(vm.files);
    const st = pid ? await this.links.qmpStatus(vm).catch(() => undefined) : undefined;
    if (st) return { status: runtimeStatus(st), pid: pid! };
    if (pid && !(await waitGone(pid, vm.files, 3000))) throw new HullError('unavailable', `${this.noun} ${vm.name}: QEMU (pid ${pid}) does not answer on QMP`);
    return { status: (await readExit(vm.files)) ? 'stopped' : 'absent', pid: 0 };
  }

  /**
   * How the last run ended, or undefined while it runs. Finding QEMU alive
   * adopts it (`adopt` adds the driver's own connections): a QEMU found
   * waiting in `shutdown` is recorded and told to quit. A QEMU gone with
   * nothing recorded is 255.
   */
  async exitStatus(vm: VmRef, adopt?: () => Promise<unknown>): Promise<ExitStatus | undefined> {
    const ex = await readExit(vm.files);
    if (ex) return asExitStatus(ex);
    if (await livePid(vm.files)) {
      await this.qmp(vm).catch(() => undefined);
      await adopt?.().catch(() => undefined);
      const later = await readExit(vm.files);
      return later ? asExitStatus(later) : undefined;
    }
    if (!(await exists(vm.files.pid))) return undefined; // never started
    await recordExit(vm.files, this.exitDir, vm.id, 255, 'QEMU is gone and nobody saw how it ended');
    const last = await readExit(vm.files);
    return last ? asExitStatus(last) : undefined;
  }

  /** Is QEMU alive? Adopts it (QMP watches for its exit from now on; `adopt` for the driver's own). */
  async monitorAlive(vm: VmRef, adopt?: () => Promise<unknown>): Promise<boolean> {
    if (!(await livePid(vm.files))) return false;
    await this.qmp(vm).catch(() => undefined);
    await adopt?.().catch(() => undefined);
    return true;
  }

  /** After an exit: QEMU gone, connections (and the driver's, `drop`) closed, sockets removed; files kept. */
  async release(vm: VmRef, drop?: () => Promise<void>): Promise<void> {
    await this.links.quietly(vm.id, async () => {
      const pid = await livePid(vm.files);
      if (pid) await this.hardStop(vm, pid);
      await drop?.();
      await this.links.drop(vm.id);
      await Promise.all(vm.files.runtimeFiles.map((f) => rm(f, { force: true })));
    });
  }

  /** Everything gone: QEMU, connections, the instance's directory, its exit file, its cgroup. */
  async remove(vm: VmRef, drop?: () => Promise<void>): Promise<void> {
    await this.links.quietly(vm.id, async () => {
      const pid = await livePid(vm.files);
      await drop?.();
      await this.links.drop(vm.id);
      if (pid) await terminate(pid, vm.files, 1000);
      await this.uids?.release(vm.files.dir).catch(() => undefined); // a claim left behind is taken over once the directory is gone
      await rm(vm.files.dir, { recursive: true, force: true });
      await rm(join(this.exitDir, vm.id), { force: true });
      await removeVmCgroup(vm.id).catch(() => undefined); // a cgroup still busy must not keep rm from finishing
    });
  }
}

const isKill = (signal: string): boolean => /^(SIG)?KILL$|^9$/i.test(signal);

/** QMP's RunState, in the Driver's words. */
export function runtimeStatus(qmpStatus: string): RuntimeStatus['status'] {
  if (qmpStatus === 'running') return 'running';
  if (qmpStatus === 'prelaunch' || qmpStatus === 'inmigrate') return 'created';
  if (qmpStatus === 'shutdown' || qmpStatus === 'guest-panicked' || qmpStatus === 'internal-error') return 'stopped';
  return 'paused';
}
