import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError, wrongState } from '../../core/errors.js';
import type { Instance } from '../../core/instance.js';
import { Reverter } from '../../core/reverter.js';
import * as qcow2 from '../../storage/qcow2.js';
import { writeFileAtomic } from '../../sys/fs.js';
import type { CreateContext, Driver, ExecOptions, ExecSession, ExitStatus, Process, RuntimeStatus, Stats, StdioStream, TapDevice } from '../driver.js';
import { chooseAccel, type AccelChoice } from './accel.js';
import type { AgentClient, AgentInfo } from './agent.js';
import { placeVm, type VmCgroup } from './cgroup.js';
import { configTar } from './config-tar.js';
import { agentExec, agentTop } from './exec.js';
import { addNic, configureNic, removeNic } from './hotplug.js';
import { addDisk, diskNode, diskNodes, grantLaunchDisks, removeDisk } from './disk-hotplug.js';
import type { VmDisk } from '../../storage/volumes/instance-volumes.js';
import { clearExit, readExit } from './exit.js';
import { VmFiles } from './files.js';
import { loadGuest, type GuestArtifacts } from './guest.js';
import { BUILTIN, type VmImages } from './images.js';
import { checkHostResources, networkConfig, vmArgv } from './machine.js';
import { seedPath, writeVmSeed } from './cloud-init.js';
import { asUser, freshBindDir, prepareVmFiles, qemuUser, tunUsable, type QemuUser } from './confine.js';
import { launch, livePid, processStats, terminate } from './process.js';
import type { QmpClient } from './qmp/client.js';
import { VmLinks, type VmRef } from './links.js';
import { QemuRuns, runtimeStatus } from './runs.js';
import * as snap from './snapshot.js';
import { QemuUids } from './uids.js';
import { DEFAULT_ISO_DISK, DEFAULT_MEMORY, vmOptions, type VmSpec } from './spec.js';

export interface QemuDriverOptions {
  /** Hull's state root: VMs live in <root>/vms/<id>/. */
  root: string;
  /** Where exit codes go for the engine's watcher (default <root>/exits, shared with containers). */
  exitDir?: string;
  images: VmImages;
  /** Hull's kernel and initramfs (default: loaded from build/guest when first needed). */
  guest?: () => Promise<GuestArtifacts>;
  /** KVM or TCG (default: chooseAccel). */
  accel?: (guest: GuestArtifacts) => Promise<AccelChoice>;
  /** The uids VMs' QEMUs run as (default: the host's, /var/lib/hull-qemu-uids). */
  uids?: QemuUids;
}

/** What `inspect` shows of a VM beyond its record. */
export interface VmInspect {
  spec: VmSpec;
  status: RuntimeStatus['status'];
  qemuPid: number;
  accel?: AccelChoice;
  qmpStatus?: string;
  dir: string;
  /** The cgroup QEMU runs in, with its limits (or why it could not be made). */
  cgroup?: VmCgroup | { error: string };
  /** Who QEMU runs as (confine.ts); absent for a QEMU an older Hull started as root. */
  user?: QemuUser;
}

/**
 * VMs through QEMU, behind the same Driver lifecycle as containers.
 *
 *   create   linked-clone disk of the image, first-boot config, vm.json; runs nothing
 *   init     QEMU started paused (-S): the console is attachable, no guest code has run
 *   start    `cont` a paused-at-init QEMU, or start one running
 *   stop     ACPI power button (the guest powers off), QMP quit after the timeout
 *   kill     KILL: quit now (exit 137); TERM/INT/HUP/PWR: the power button
 *   pause    QMP stop / cont
 *   exec     through the guest agent (virtio-serial)
 *   attach   the serial console
 *
 * QEMU runs daemonized and outlives Hull. Hull keeps one QMP connection per
 * running VM (links.ts); when the guest powers off (QEMU has -no-shutdown and waits),
 * the SHUTDOWN event records the exit (exit.ts) and Hull tells QEMU to quit.
 * A daemon that was down meanwhile finds QEMU waiting in `shutdown` state
 * when it reconnects (exitStatus/monitorAlive reconnect), so no exit is lost.
 * Everything else is in files (files.ts); a new driver instance picks up a
 * running VM from its pidfile and QMP socket.
 */
export class QemuDriver implements Driver {
  readonly type = 'vm' as const;
  readonly exitDir: string;
  private links: VmLinks;
  private runs: QemuRuns;
  private uids: QemuUids;

  constructor(private o: QemuDriverOptions) {
    this.exitDir = o.exitDir ?? join(o.root, 'exits');
    this.uids = o.uids ?? new QemuUids();
    this.links = new VmLinks(this.exitDir);
    this.runs = new QemuRuns(this.links, this.exitDir, 'VM', this.uids);
  }

  private ref(inst: Instance): VmRef {
    return { id: inst.id, name: inst.name, files: this.files(inst), log: inst.config.logConfig };
  }

  private qmp(inst: Instance): Promise<QmpClient> {
    return this.links.qmp(this.ref(inst));
  }

  private qmpStatus(inst: Instance): Promise<string> {
    return this.links.qmpStatus(this.ref(inst));
  }

  private agent(inst: Instance, timeoutMs?: number): Promise<AgentClient> {
    return this.links.agent(this.ref(inst), timeoutMs);
  }

  files(inst: Instance): VmFiles {
    return new VmFiles(join(this.o.root, 'vms', inst.id));
  }

  logPath(inst: Instance): string {
    return this.files(inst).consoleLog;
  }

  private guest(): Promise<GuestArtifacts> {
    return this.o.guest ? this.o.guest() : loadGuest();
  }

  private async accel(guest: GuestArtifacts): Promise<AccelChoice> {
    return this.o.accel ? this.o.accel(guest) : chooseAccel(guest);
  }

  // ---- create ----

  async create(inst: Instance): Promise<void> {
    const files = this.files(inst);
    const opts = vmOptions(inst);
    const memoryBytes = inst.config.resources.memoryBytes ?? DEFAULT_MEMORY;
    const cpus = inst.config.resources.cpus ?? 1;
    await checkHostResources(memoryBytes, cpus);
    const image = await this.o.images.get(inst.config.image).catch(async (e: unknown) => {
      if (inst.config.image === BUILTIN) await this.guest(); // "the guest is not built: run npm run setup" says more
      throw e;
    });
    const r = new Reverter();
    try {
      await mkdir(files.dir, { recursive: true, mode: 0o700 });
      r.add(() => rm(files.dir, { recursive: true, force: true }));
      let diskBytes: number;
      if (image.format === 'iso') {
        diskBytes = opts.diskBytes ?? DEFAULT_ISO_DISK;
        await qcow2.createBlank(files.disk, diskBytes);
      } else {
        await qcow2.check(image.path, `of VM image "${image.name || image.id}" (${image.path})`);
        diskBytes = Math.max(opts.diskBytes ?? 0, image.virtualSize);
        await qcow2.createOverlay(image.path, files.disk, { sizeBytes: opts.diskBytes, baseFormat: 'qcow2' });
      }
      const hostname = inst.config.hostname || inst.name;
      await this.writeConfig(inst, []);
      const spec: VmSpec = {
        version: 1,
        image: { name: image.name, id: image.id, boot: image.boot },
        memoryBytes,
        cpus,
        hostname,
        diskBytes,
        cdrom: image.format === 'iso' ? image.path : undefined,
        kernelArgs: opts.kernelArgs ?? [],
      };
      await writeFileAtomic(files.spec, JSON.stringify(spec, null, 2));
      r.success();
    } finally {
      await r.revert();
    }
  }

  /** The first-boot configuration tar (fw_cfg): hostname, user script, and the network (rewritten at each launch). */
  private async writeConfig(inst: Instance, taps: TapDevice[]): Promise<void> {
    const config: Record<string, string> = { hostname: inst.config.hostname || inst.name };
    const userScript = vmOptions(inst).userScript;
    if (userScript) config['user-script'] = userScript;
    if (taps.length) config.network = networkConfig(taps);
    await writeFile(this.files(inst).config, await configTar(config));
  }

  async spec(inst: Instance): Promise<VmSpec> {
    try {
      return JSON.parse(await readFile(this.files(inst).spec, 'utf8')) as VmSpec;
    } catch {
      throw new HullError('not_found', `VM ${inst.name} has no machine description (vm.json): was it created?`);
    }
  }

  // ---- run ----

  async init(inst: Instance, ctx?: CreateContext): Promise<{ pid: number; monitorPid: number }> {
    const pid = await livePid(this.files(inst));
    if (pid) return { pid, monitorPid: pid };
    return this.launchVm(inst, true, ctx?.network?.taps ?? [], ctx?.storage?.disks ?? []);
  }

  async start(inst: Instance, ctx?: CreateContext): Promise<{ pid: number; monitorPid: number }> {
    const files = this.files(inst);
    const pid = await livePid(files);
    if (pid) {
      // A QEMU found waiting in `shutdown` is recorded and quits as the connection is made: then this fails.
      const st = await this.qmpStatus(inst).catch(() => 'gone');
      if (st === 'running') return { pid, monitorPid: pid };
      if (st === 'prelaunch' || st === 'paused') {
        await (await this.qmp(inst)).execute('cont');
        return { pid, monitorPid: pid };
      }
      await this.release(inst); // a QEMU that ended or is in an error state: start afresh
    }
    return this.launchVm(inst, false, ctx?.network?.taps ?? [], ctx?.storage?.disks ?? []);
  }

  /** The uid the VM's QEMU runs as (its taps are made owned by it): claimed at the first ask. Undefined when Hull is not root. */
  async tapOwner(inst: Instance): Promise<number | undefined> {
    return (await qemuUser(this.uids, this.files(inst), 'tcg'))?.uid;
  }

  /** Who QEMU runs as, and the VM's files made fit for that user (confine.ts): only paths Hull chose. */
  private async confine(inst: Instance, spec: VmSpec, accel: AccelChoice, taps: TapDevice[]): Promise<{ user?: QemuUser; prepare?: () => Promise<void>; files?: () => Promise<void> }> {
    const files = this.files(inst);
    const user = await qemuUser(this.uids, files, accel.accel);
    if (!user) return {};
    if (taps.length) await tunUsable();
    const image = spec.image.id ? await this.o.images.get(spec.image.id).catch(() => undefined) : undefined;
    const shared = [image?.path, spec.cdrom].filter((p): p is string => !!p && p.startsWith(`${this.o.root}/`));
    const ro = spec.image.boot === 'hull' ? [files.config] : [seedPath(files)];
    const paths = { rw: [files.disk, files.consoleLog], ro, shared, root: this.o.root };
    const fit = () => prepareVmFiles(files, user, paths);
    const prepare = async () => {
      await fit();
      await freshBindDir(files, user);
    };
    return { user, prepare, files: fit };
  }

  private async launchVm(inst: Instance, paused: boolean, taps: TapDevice[], disks: VmDisk[]): Promise<{ pid: number; monitorPid: number }> {
    const files = this.files(inst);
    const spec = await this.spec(inst);
    await checkHostResources(spec.memoryBytes, spec.cpus);
    const guest = await this.guest();
    const accel = await this.accel(guest);
    const confined = await this.confine(inst, spec, accel, taps);
    const loadvm = (await readFile(files.loadvm, 'utf8').catch(() => '')).trim() || undefined;
    await clearExit(files, this.exitDir, inst.id);
    if (spec.image.boot === 'hull') await this.writeConfig(inst, taps);
    else await writeVmSeed(files, inst, spec, taps); // a cloud-init NoCloud seed, attached as a read-only disk (machine.ts)
    const r = new Reverter();
    try {
      r.add(() => Promise.all(files.runtimeFiles.map((f) => rm(f, { force: true }))));
      // Attached volumes' disks are opened by QEMU itself: its uid's while it has them (disk-access.ts).
      await grantLaunchDisks(disks, confined.user?.uid);
      // Every VM gets spare root ports: a disk can be attached to any of them, a card to those on bridges.
      const argv = vmArgv(spec, files, { accel: accel.accel, guest, paused, loadvm, taps, spareSlots: true, disks });
      const pid = await launch(argv, files, { user: confined.user, prepare: confined.prepare, sockets: files.sockets, log: inst.config.logConfig }).catch(async (e: unknown) => {
        if (!loadvm || !(e instanceof HullError)) throw e;
        // A snapshot's memory that cannot be loaded (another accelerator, CPU model, QEMU): boot the disk next time.
        await rm(files.loadvm, { force: true });
        throw e.wrap(`cannot resume snapshot "${loadvm}" (the next start boots from the disk as restored)`);
      });
      r.add(() =>
        this.links.quietly(inst.id, async () => {
          await this.links.drop(inst.id);
          await terminate(pid, files);
        }),
      );
      // The VM's memory (+ QEMU's overhead) and CPU limits; a host without writable cgroups runs it unconfined.
      const cgroup = await placeVm(inst.id, pid, spec.memoryBytes, spec.cpus).catch((e: unknown) => ({ error: String(e) }));
      await writeFile(join(files.dir, 'run.json'), JSON.stringify({ accel, pid, startedAt: new Date().toISOString(), kernelRelease: guest.kernelRelease, cgroup, user: confined.user }));
      await this.qmp(inst);
      if (loadvm) await rm(files.loadvm, { force: true });
      r.success();
      return { pid, monitorPid: pid };
    } finally {
      await r.revert();
    }
  }

  /** The ACPI power button (the guest powers off), a forced quit after the timeout. */
  stop(inst: Instance, timeoutSec: number, signal?: string): Promise<void> {
    return this.runs.stop(this.ref(inst), timeoutSec, signal, () => this.powerButton(inst));
  }

  /** KILL: a power cut (137); TERM, INT, HUP, PWR: the ACPI power button. */
  kill(inst: Instance, signal: string): Promise<void> {
    return this.runs.kill(this.ref(inst), signal, async () => {
      if (!/^(SIG)?(TERM|INT|HUP|PWR)$|^(1|2|15|30)$/i.test(signal)) {
        throw new HullError('invalid', `a VM takes KILL (power cut) or TERM, INT, HUP, PWR (the ACPI power button), not ${signal}`);
      }
      await this.powerButton(inst);
    });
  }

  private async powerButton(inst: Instance): Promise<void> {
    await (await this.qmp(inst)).execute('system_powerdown');
  }

  pause(inst: Instance): Promise<void> {
    return this.runs.pause(this.ref(inst));
  }

  resume(inst: Instance): Promise<void> {
    return this.runs.resume(this.ref(inst));
  }

  private runningQmp(inst: Instance): Promise<QmpClient> {
    return this.runs.runningQmp(this.ref(inst));
  }

  status(inst: Instance): Promise<RuntimeStatus> {
    return this.runs.status(this.ref(inst));
  }

  exitStatus(inst: Instance): Promise<ExitStatus | undefined> {
    return this.runs.exitStatus(this.ref(inst));
  }

  /** After an exit: make sure QEMU is gone, drop the connections and sockets; keep disk, config, logs. */
  release(inst: Instance): Promise<void> {
    return this.runs.release(this.ref(inst));
  }

  remove(inst: Instance): Promise<void> {
    return this.runs.remove(this.ref(inst));
  }

  monitorAlive(inst: Instance): Promise<boolean> {
    return this.runs.monitorAlive(this.ref(inst));
  }

  /** Take up a running VM (daemon start-up): connect QMP so its exit is seen. */
  async adopt(inst: Instance): Promise<boolean> {
    return this.monitorAlive(inst);
  }

  // ---- I/O ----

  async attach(inst: Instance): Promise<StdioStream> {
    if (!(await livePid(this.files(inst)))) throw wrongState(`VM ${inst.name} is not running`);
    return this.links.console(this.ref(inst));
  }

  async resize(): Promise<void> {
    // A serial console has no window size to tell.
  }

  async exec(inst: Instance, opts: ExecOptions): Promise<ExecSession> {
    return agentExec(await this.agent(inst), opts);
  }

  /** Wait until the guest is ready: its agent answers, and (info is held until then) its first-boot configuration is done. */
  async waitReady(inst: Instance, timeoutMs = 120_000): Promise<void> {
    const t0 = Date.now();
    const a = await this.agent(inst, timeoutMs);
    // An exec is held until the guest has configured itself; `true` is the cheapest the agent runs.
    const r = await a.exec(['true'], { timeoutMs: Math.max(1000, timeoutMs - (Date.now() - t0)) });
    if (r.exitCode !== 0) throw new HullError('unavailable', `VM ${inst.name}: the guest agent answers but cannot run commands (exit ${r.exitCode})`);
  }

  async agentInfo(inst: Instance): Promise<AgentInfo> {
    return (await this.agent(inst)).info();
  }

  /** `network connect` on a running VM: a card on the tap (made by the network manager), configured in Hull's guest through the agent. */
  async nicAdd(inst: Instance, tap: TapDevice): Promise<void> {
    const qmp = await this.runningQmp(inst);
    if ((await this.qmpStatus(inst)) !== 'running') throw wrongState(`VM ${inst.name} is paused: resume it before connecting it to a network`);
    if (process.getuid?.() === 0) await tunUsable(); // the unprivileged QEMU opens /dev/net/tun for the tap
    const dev = await addNic(qmp, tap);
    if ((await this.spec(inst)).image.boot !== 'hull') return; // an imported image configures its cards itself
    await configureNic(await this.agent(inst, 120_000), tap).catch(async (e: unknown) => {
      await removeNic(qmp, tap).catch(() => undefined);
      throw e instanceof HullError ? e.wrap(`VM ${inst.name} (card ${dev})`) : e;
    });
  }

  /** `vm disk attach` on a running VM: the volume's disk plugged in; the guest sees a new /dev/vdX. */
  async diskAdd(inst: Instance, disk: VmDisk): Promise<void> {
    const qmp = await this.runningQmp(inst);
    if ((await this.qmpStatus(inst)) !== 'running') throw wrongState(`VM ${inst.name} is paused: resume it before attaching a disk`);
    await addDisk(qmp, disk, await this.tapOwner(inst));
  }

  /** `vm disk detach` on a running VM: unplugged once the guest lets go. */
  async diskRemove(inst: Instance, disk: VmDisk): Promise<void> {
    if (!(await livePid(this.files(inst)))) return;
    if ((await this.qmpStatus(inst)) !== 'running') throw wrongState(`VM ${inst.name} is paused: resume it before detaching a disk`);
    await removeDisk(await this.qmp(inst), disk);
  }

  /** A snapshot inside an attached qcow2 volume, taken or deleted by the running QEMU that holds it. */
  async diskSnapshot(inst: Instance, volumeId: string, name: string, op: 'create' | 'delete'): Promise<void> {
    const qmp = await this.runningQmp(inst);
    const cmd = op === 'create' ? 'blockdev-snapshot-internal-sync' : 'blockdev-snapshot-delete-internal-sync';
    await qmp.execute(cmd, { device: diskNode(volumeId), name });
  }

  /**
   * After a daemon restart: a running VM's disks made to match its record (an
   * attach or detach the last daemon was killed in the middle of is finished
   * or undone).
   */
  async diskReconcile(inst: Instance, disks: VmDisk[]): Promise<void> {
    if (!(await livePid(this.files(inst)))) return;
    const qmp = await this.qmp(inst);
    const have = await diskNodes(qmp);
    const want = new Set(disks.map((d) => d.volumeId.slice(0, 12)));
    for (const short of have) if (!want.has(short)) await removeDisk(qmp, { volumeId: short, path: '' });
    for (const d of disks) if (!have.has(d.volumeId.slice(0, 12))) await addDisk(qmp, d, await this.tapOwner(inst));
  }

  /** `network disconnect` on a running VM: the card goes (or, one from launch, is cut off) before the tap does. */
  async nicRemove(inst: Instance, tap: TapDevice): Promise<void> {
    if (!(await livePid(this.files(inst)))) return;
    if ((await this.qmpStatus(inst)) !== 'running') throw wrongState(`VM ${inst.name} is paused: resume it before disconnecting it from a network`);
    await removeNic(await this.qmp(inst), tap, () => this.agent(inst, 5000));
  }

  async stats(inst: Instance): Promise<Stats> {
    const pid = await livePid(this.files(inst));
    if (!pid) throw wrongState(`VM ${inst.name} is not running`);
    const spec = await this.spec(inst);
    const p = await processStats(pid);
    // The balloon's `actual` is the memory the guest has now (less than configured when inflated).
    const balloon = await (await this.qmp(inst)).execute<{ actual: number }>('query-balloon', undefined, { timeoutMs: 2000 }).catch(() => undefined);
    return { memoryUsage: p.rssBytes, memoryLimit: balloon?.actual ?? spec.memoryBytes, cpuUsageNs: p.cpuNs, pids: p.threads, pidsLimit: 0 };
  }

  async top(inst: Instance): Promise<Process[]> {
    return agentTop(await this.agent(inst));
  }

  async rootfs(inst: Instance): Promise<never> {
    throw new HullError('invalid', `VM ${inst.name} has no root filesystem on the host: use \`hull vm exec\``);
  }

  async inspect(inst: Instance): Promise<VmInspect> {
    const files = this.files(inst);
    const spec = await this.spec(inst);
    const pid = (await livePid(files)) ?? 0;
    const run = pid ? await readFile(join(files.dir, 'run.json'), 'utf8').then((t) => JSON.parse(t) as { accel: AccelChoice; cgroup?: VmCgroup | { error: string }; user?: QemuUser }, () => undefined) : undefined;
    const qmpStatus = pid ? await this.qmpStatus(inst).catch(() => undefined) : undefined;
    const status = pid ? runtimeStatus(qmpStatus ?? 'running') : (await readExit(files)) ? 'stopped' : 'absent';
    return { spec, status, qemuPid: pid, accel: run?.accel, qmpStatus, dir: files.dir, cgroup: run?.cgroup, user: run?.user };
  }

  // ---- snapshots (snapshot.ts): full while QEMU runs, disk-only while it is stopped ----

  /** The VM's QMP connection while QEMU runs, else undefined. */
  private async liveQmp(inst: Instance): Promise<QmpClient | undefined> {
    return (await livePid(this.files(inst))) ? this.qmp(inst) : undefined;
  }

  /**
   * How qemu-img reads the VM's disk: as its QEMU's user (the disk is that
   * user's to write, so root does not parse it), after making the files fit
   * for it while QEMU is stopped. A disk a root-run QEMU of an older Hull
   * still holds is read as before.
   */
  private async diskReader(inst: Instance): Promise<string[]> {
    const files = this.files(inst);
    if (await livePid(files)) {
      const user = await qemuUser(this.uids, files, 'tcg');
      const owner = (await stat(files.disk).catch(() => undefined))?.uid;
      return user && owner === user.uid ? asUser(user) : [];
    }
    const c = await this.confine(inst, await this.spec(inst), { accel: 'tcg', reason: 'qemu-img' }, []);
    await c.files?.();
    return asUser(c.user);
  }

  async snapshotCreate(inst: Instance, name: string): Promise<snap.VmSnapshot> {
    const as = await this.diskReader(inst);
    return snap.create(this.files(inst), name, await this.liveQmp(inst), as);
  }

  async snapshotList(inst: Instance): Promise<snap.VmSnapshot[]> {
    return snap.list(this.files(inst).disk, await this.diskReader(inst));
  }

  /** A running VM is rolled back only with `force`; a stopped one resumes from a full snapshot at its next start. */
  async snapshotRestore(inst: Instance, name: string, opts: { force?: boolean } = {}): Promise<void> {
    const as = await this.diskReader(inst);
    return snap.restore(this.files(inst), name, await this.liveQmp(inst), { force: opts.force, vmName: inst.name, as });
  }

  async snapshotDelete(inst: Instance, name: string): Promise<void> {
    const as = await this.diskReader(inst);
    return snap.remove(this.files(inst), name, await this.liveQmp(inst), as);
  }

  /** Daemon shutdown: let go of every VM, leaving them running. */
  async close(): Promise<void> {
    await this.links.close();
  }
}

