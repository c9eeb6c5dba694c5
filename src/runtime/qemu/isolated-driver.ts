import { constants as os } from 'node:os';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError, wrongState } from '../../core/errors.js';
import type { Instance } from '../../core/instance.js';
import { Reverter } from '../../core/reverter.js';
import { writeFileAtomic } from '../../sys/fs.js';
import type { CreateContext, Driver, FileCopier, ExecOptions, ExecSession, ExitStatus, Process, RootfsView, RuntimeStatus, Stats, StdioStream, TapDevice } from '../driver.js';
import { resolveUser } from '../oci/user.js';
import { chooseAccel, type AccelChoice } from './accel.js';
import { placeVm, type VmCgroup } from './cgroup.js';
import { mergeEnv } from '../../core/env.js';
import { configTar, shQuote } from './config-tar.js';
import { agentExec, agentTop } from './exec.js';
import * as dev from './devices.js';
import { clearExit, recordExit } from './exit.js';
import { VmFiles } from './files.js';
import { loadGuest, type GuestArtifacts } from './guest.js';
import { IsolatedIo } from './isolated-io.js';
import { GuestCopier } from './guest-copy.js';
import { freshBindDir, prepareVmFiles, qemuUser, tunUsable, type QemuUser } from './confine.js';
import { QemuUids } from './uids.js';
import { VmLinks, type VmRef } from './links.js';
import { QemuRuns } from './runs.js';
import { AGENT_PORT, CONFIG_FW_CFG, checkHostResources, machineArgs, networkConfig } from './machine.js';
import { launch, livePid, processStats, terminate } from './process.js';
import type { QmpClient } from './qmp/client.js';
import { RootfsCache } from './rootfs-cache.js';
import { mergedLayersView, withMergedLayers } from './rootfs-image.js';
import { grantLaunchDisks, guestMountScript, launchDiskArgs } from './disk-hotplug.js';
import type { StorageContext } from '../../storage/volumes/instance-volumes.js';
import { checkVirtiofsd, guestShareScript, shareArgs, shareTag, startShares, stopShares } from './virtiofs.js';

/** A VM-isolated container's memory unless -m says otherwise; below the floor the guest kernel does not boot. */
export const DEFAULT_ISOLATED_MEMORY = 256 * 1024 * 1024;
export const MIN_ISOLATED_MEMORY = 64 * 1024 * 1024;
/** Free space on the container's disk beyond its image (sparse: costs nothing until written). */
export const ROOTFS_ROOM = 1024 * 1024 * 1024;

const PORTS = { stdout: 'org.hull.stdout', stderr: 'org.hull.stderr', stdin: 'org.hull.stdin', ctl: 'org.hull.ctl' } as const;

/**
 * The files of one VM-isolated container, under <root>/ivm/<id>/ (short: the
 * sockets' paths must fit in 107 bytes): VmFiles' qemu.pid, qmp.sock,
 * exit.json, console.log (the guest kernel's console), and
 *
 *   disk.qcow2    the container's root filesystem: a qcow2 overlay on its image's ext4 (rootfs-cache.ts)
 *   base          which base that is
 *   config.tar    run.sh (env, user, workdir, argv), hostname, network (rewritten at each start)
 *   out.sock err.sock in.sock ctl.sock   the ports (guest/run)
 *   ctr.log       stdout and stderr in conmon's k8s-file format (`hull logs`)
 *   counts.json   bytes received on each output port in this run
 */
export class IsolatedFiles extends VmFiles {
  /** The key of the shared base image disk.qcow2 is an overlay on (rootfs-cache.ts). */
  get baseKey() {
    return join(this.dir, 'base');
  }
  get out() {
    return join(this.dir, 'out.sock');
  }
  get err() {
    return join(this.dir, 'err.sock');
  }
  get in() {
    return join(this.dir, 'in.sock');
  }
  get ctl() {
    return join(this.dir, 'ctl.sock');
  }
  get log() {
    return join(this.dir, 'ctr.log');
  }
  get counts() {
    return join(this.dir, 'counts.json');
  }
  get runScript() {
    return join(this.dir, 'run.sh');
  }
  override get runtimeFiles() {
    return [...super.runtimeFiles, this.out, this.err, this.in, this.ctl, this.counts];
  }
}

export interface IsolatedDriverOptions {
  root: string;
  /** Where exit codes go for the engine's watcher (shared with containers and VMs). */
  exitDir: string;
  guest?: () => Promise<GuestArtifacts>;
  accel?: (guest: GuestArtifacts) => Promise<AccelChoice>;
  /** The uids the instances' QEMUs run as (default: the host's, /var/lib/hull-qemu-uids). */
  uids?: QemuUids;
}

/**
 * IsolatedDriver: an OCI container whose program runs in a small VM of its
 * own (`hull run --isolation vm`), as Kata Containers do, behind the same
 * Driver lifecycle as a plain container.
 *
 *   create   disk.qcow2, an overlay on the image's shared ext4 (made once per image), run.sh
 *   init     QEMU daemonized and paused (-S), Hull's kernel + initramfs with hull.run=1,
 *            the ports connected (isolated-io.ts): attachable, nothing has run
 *   start    `cont`
 *   stop     "signal 15" to the program, QEMU quit after the timeout (137)
 *   kill     KILL: QEMU quit now (137); other signals go to the program
 *   logs     ctr.log, conmon's format, written by the daemon from the ports
 *
 * QEMU outlives the daemon; the exit is the program's code, recorded (exit.ts)
 * before the guest is told to power off. exec and top go through the guest
 * agent, its commands rooted in the container; so does cp (guest-copy.ts:
 * the files are on the VM's disk, never mounted on the host).
 */
export class IsolatedDriver implements Driver {
  readonly type = 'container' as const;
  private links: VmLinks;
  private runs: QemuRuns;
  private cache: RootfsCache;
  private ios = new Map<string, Promise<IsolatedIo>>();
  private uids: QemuUids;

  constructor(private o: IsolatedDriverOptions) {
    this.uids = o.uids ?? new QemuUids();
    this.links = new VmLinks(o.exitDir);
    this.runs = new QemuRuns(this.links, o.exitDir, 'container', this.uids);
    this.cache = new RootfsCache(join(o.root, 'ivm-base'), join(o.root, 'ivm'), { roomBytes: ROOTFS_ROOM });
  }

  files(inst: Instance): IsolatedFiles {
    return new IsolatedFiles(join(this.o.root, 'ivm', inst.id));
  }

  logPath(inst: Instance): string {
    return this.files(inst).log;
  }

  private ref(inst: Instance): VmRef {
    return { id: inst.id, name: inst.name, files: this.files(inst), log: inst.config.logConfig };
  }

  private qmp(inst: Instance): Promise<QmpClient> {
    return this.links.qmp(this.ref(inst));
  }

  private guest(): Promise<GuestArtifacts> {
    return this.o.guest ? this.o.guest() : loadGuest();
  }

  // ---- create ----

  async create(inst: Instance, ctx: CreateContext): Promise<void> {
    const files = this.files(inst);
    const memoryBytes = memoryOf(inst);
    if (memoryBytes < MIN_ISOLATED_MEMORY) throw new HullError('resource', `memory limit ${memoryBytes} bytes is too small for a VM-isolated container: the minimum is 64MiB`);
    await checkHostResources(memoryBytes, inst.config.resources.cpus ?? 1);
    await this.guest(); // "the guest is not built: run npm run setup" before any work
    if ((inst.config.mounts ?? []).some((m) => m.type === 'bind')) checkVirtiofsd();
    const r = new Reverter();
    try {
      await mkdir(files.dir, { recursive: true, mode: 0o700 });
      r.add(() => rm(files.dir, { recursive: true, force: true }));
      const c = inst.config;
      // A user name is looked up in the image's own passwd and group.
      const user = c.user ? await withMergedLayers(ctx.layerDirs, files.dir, (merged) => resolveUser(merged, c.user)) : undefined;
      await this.cache.overlay(ctx.layerDirs, files.disk, files.baseKey);
      // docker -t sets TERM when the image does not.
      const env = c.tty && !c.env.some((e) => e.startsWith('TERM=')) ? [...c.env, 'TERM=xterm'] : c.env;
      await writeFileAtomic(files.runScript, runScript(c.entrypoint.concat(c.cmd), env, c.workingDir, user));
      r.success();
    } finally {
      await r.revert();
    }
  }

  // ---- run ----

  async init(inst: Instance, ctx?: CreateContext): Promise<{ pid: number; monitorPid: number }> {
    const pid = await livePid(this.files(inst));
    if (pid) {
      await this.io(inst);
      return { pid, monitorPid: pid };
    }
    return this.launchPaused(inst, ctx?.network?.taps ?? [], ctx?.storage);
  }

  async start(inst: Instance, ctx?: CreateContext): Promise<{ pid: number; monitorPid: number }> {
    const files = this.files(inst);
    let pid = await livePid(files);
    if (pid) {
      const st = await this.links.qmpStatus(this.ref(inst)).catch(() => 'gone');
      if (st === 'running') return { pid, monitorPid: pid };
      if (st !== 'prelaunch' && st !== 'paused') {
        await this.release(inst);
        pid = undefined;
      }
    }
    if (!pid) pid = (await this.launchPaused(inst, ctx?.network?.taps ?? [], ctx?.storage)).pid;
    await this.io(inst);
    await (await this.qmp(inst)).execute('cont');
    return { pid, monitorPid: pid };
  }

  /** The uid the instance's QEMU runs as (its taps are made owned by it); undefined when Hull is not root. */
  async tapOwner(inst: Instance): Promise<number | undefined> {
    return (await qemuUser(this.uids, this.files(inst), 'tcg'))?.uid;
  }

  /** Who QEMU runs as, and the instance's files made fit for that user (confine.ts). */
  private async confine(inst: Instance, accel: AccelChoice, taps: TapDevice[]): Promise<{ user?: QemuUser; prepare?: () => Promise<void>; files?: () => Promise<void> }> {
    const files = this.files(inst);
    const user = await qemuUser(this.uids, files, accel.accel);
    if (!user) return {};
    if (taps.length) await tunUsable();
    const key = (await readFile(files.baseKey, 'utf8').catch(() => '')).trim();
    const shared = /^[0-9a-f]{32}$/.test(key) ? [this.cache.basePath(key)] : [];
    const paths = { rw: [files.disk, files.consoleLog], ro: [files.config], shared, root: this.o.root };
    const fit = () => prepareVmFiles(files, user, paths);
    const prepare = async () => {
      await fit();
      await freshBindDir(files, user);
    };
    return { user, prepare, files: fit };
  }

  /** QEMU up and stopped before the guest's first instruction, its ports connected. */
  private async launchPaused(inst: Instance, taps: TapDevice[], storage?: StorageContext): Promise<{ pid: number; monitorPid: number }> {
    const files = this.files(inst);
    const c = inst.config;
    const memoryBytes = memoryOf(inst);
    const cpus = c.resources.cpus ?? 1;
    await checkHostResources(memoryBytes, cpus);
    const guest = await this.guest();
    const accel = await (this.o.accel ? this.o.accel(guest) : chooseAccel(guest));
    const confined = await this.confine(inst, accel, taps);
    await clearExit(files, this.o.exitDir, inst.id);
    await this.dropIo(inst.id);
    await rm(files.counts, { force: true });
    const shares = storage?.shares ?? [];
    // The container's block volumes, tmpfs mounts and shared directories are mounted in the guest before its program runs.
    const mounts = guestMounts(storage);
    const config: Record<string, string> = { 'run.sh': mounts + (await readFile(files.runScript, 'utf8')), hostname: c.hostname || inst.name };
    if (c.tty) config.tty = '';
    if (taps.length) config.network = networkConfig(taps);
    await writeFile(files.config, await configTar(config));
    const argv = [
      ...machineArgs({ accel: accel.accel, memoryBytes, cpus, name: inst.name, sharedMemory: shares.length > 0 }),
      '-kernel', guest.kernel, '-initrd', guest.initrd,
      '-append', 'console=ttyS0 quiet panic=-1 hull.run=1',
      ...dev.disk(files.disk, { format: 'qcow2' }),
      ...launchDiskArgs(storage?.disks ?? []),
      ...shareArgs(files.dir, shares),
      ...dev.virtioSerial(),
      ...dev.socketChardev('out', files.bindPath(files.out), { server: true }), ...dev.serialPort('out', PORTS.stdout, 1),
      ...dev.socketChardev('err', files.bindPath(files.err), { server: true }), ...dev.serialPort('err', PORTS.stderr, 2),
      ...dev.socketChardev('ctl', files.bindPath(files.ctl), { server: true }), ...dev.serialPort('ctl', PORTS.ctl, 3),
      ...(c.openStdin || c.tty ? [...dev.socketChardev('in', files.bindPath(files.in), { server: true }), ...dev.serialPort('in', PORTS.stdin, 4)] : []),
      ...dev.socketChardev('agent0', files.bindPath(files.agent), { server: true }), ...dev.serialPort('agent0', AGENT_PORT, 5),
      // Appended (a truncation by the log's rotation must not leave QEMU writing past a hole).
      '-chardev', `file,id=ser0,path=${dev.optValue(files.consoleLog)},append=on`, '-serial', 'chardev:ser0',
      ...taps.flatMap((t, i) => dev.tapNic(`n${i}`, t.name, t.mac)),
      ...dev.fwCfg(CONFIG_FW_CFG, files.config),
      ...dev.qmp(files),
      // The guest's poweroff leaves QEMU up until Hull has seen the exit (links.ts); a panic ends the run (255).
      '-no-shutdown', '-no-reboot',
      '-S',
    ];
    const r = new Reverter();
    try {
      r.add(() => Promise.all(files.runtimeFiles.map((f) => rm(f, { force: true }))));
      const sockets = [files.out, files.err, files.ctl, ...(c.openStdin || c.tty ? [files.in] : []), files.agent, files.qmp];
      // Its block volumes' disks are opened by its QEMU: that uid's while it runs (disk-access.ts).
      await grantLaunchDisks(storage?.disks ?? [], confined.user?.uid);
      // Each shared directory's virtiofsd, listening before QEMU connects to it; in the instance's cgroup.
      r.add(() => stopShares(files.dir));
      await startShares(files.dir, shares, confined.user, (vfsPid) => placeVm(inst.id, vfsPid, memoryBytes, cpus));
      const pid = await launch(argv, files, { user: confined.user, prepare: confined.prepare, sockets, log: inst.config.logConfig });
      r.add(() =>
        this.links.quietly(inst.id, async () => {
          await this.dropIo(inst.id);
          await this.links.drop(inst.id);
          await terminate(pid, files);
        }),
      );
      const cgroup = await placeVm(inst.id, pid, memoryBytes, cpus).catch((e: unknown) => ({ error: String(e) }));
      await writeFile(join(files.dir, 'run.json'), JSON.stringify({ accel, pid, startedAt: new Date().toISOString(), kernelRelease: guest.kernelRelease, cgroup, user: confined.user }));
      await this.qmp(inst);
      await this.io(inst);
      r.success();
      return { pid, monitorPid: pid };
    } finally {
      await r.revert();
    }
  }

  /** The ports' connection of a running instance, made on first use (also after a daemon restart). */
  private io(inst: Instance): Promise<IsolatedIo> {
    const cur = this.ios.get(inst.id);
    if (cur) return cur.then((io) => (io.isClosed ? this.reopenIo(inst, cur) : io));
    return this.reopenIo(inst);
  }

  private reopenIo(inst: Instance, stale?: Promise<IsolatedIo>): Promise<IsolatedIo> {
    if (stale && this.ios.get(inst.id) === stale) this.ios.delete(inst.id);
    const files = this.files(inst);
    const p = IsolatedIo.open(
      { stdout: files.out, stderr: files.err, ctl: files.ctl, stdin: inst.config.openStdin || inst.config.tty ? files.in : undefined },
      { log: files.log, logPolicy: inst.config.logConfig, counts: files.counts, tty: inst.config.tty, onExit: async (code) => void (await recordExit(files, this.o.exitDir, inst.id, code, 'exited')) },
    );
    this.ios.set(inst.id, p);
    p.catch(() => this.ios.get(inst.id) === p && this.ios.delete(inst.id));
    return p;
  }

  private async dropIo(id: string): Promise<void> {
    const p = this.ios.get(id);
    this.ios.delete(id);
    await p?.then((io) => io.close()).catch(() => undefined);
  }

  /** SIGTERM (or `signal`) to the program through the ctl port, a forced quit (137) after the timeout. */
  stop(inst: Instance, timeoutSec: number, signal?: string): Promise<void> {
    return this.runs.stop(this.ref(inst), timeoutSec, signal, () => this.signal(inst, signal ?? 'SIGTERM'));
  }

  /** KILL: QEMU quit now (137); any other signal goes to the program. */
  kill(inst: Instance, signal: string): Promise<void> {
    return this.runs.kill(this.ref(inst), signal, () => this.signal(inst, signal));
  }

  private async signal(inst: Instance, signal: string): Promise<void> {
    (await this.io(inst)).signal(signalNumber(signal));
  }

  pause(inst: Instance): Promise<void> {
    return this.runs.pause(this.ref(inst));
  }

  resume(inst: Instance): Promise<void> {
    return this.runs.resume(this.ref(inst));
  }

  status(inst: Instance): Promise<RuntimeStatus> {
    return this.runs.status(this.ref(inst));
  }

  /** Adopting a running one also takes its ports (an exit report may be waiting on them). */
  exitStatus(inst: Instance): Promise<ExitStatus | undefined> {
    return this.runs.exitStatus(this.ref(inst), () => this.io(inst));
  }

  /** After an exit: QEMU gone, ports and connections closed, sockets removed; the disk and log stay. */
  release(inst: Instance): Promise<void> {
    return this.runs.release(this.ref(inst), () => this.dropAll(inst));
  }

  /** The ports' connection and the shared directories' virtiofsds (which end with QEMU anyway). */
  private async dropAll(inst: Instance): Promise<void> {
    await this.dropIo(inst.id);
    await stopShares(this.files(inst).dir);
  }

  /** Everything of the instance; its image's base too when no other container uses it. */
  async remove(inst: Instance): Promise<void> {
    await this.runs.remove(this.ref(inst), () => this.dropAll(inst));
    await this.cache.prune();
  }

  /** Daemon start: bases no container uses any more (and half-made ones) go. */
  prune(): Promise<void> {
    return this.cache.prune();
  }

  monitorAlive(inst: Instance): Promise<boolean> {
    return this.runs.monitorAlive(this.ref(inst), () => this.io(inst));
  }

  // ---- I/O ----

  async attach(inst: Instance): Promise<StdioStream> {
    if (!(await livePid(this.files(inst)))) throw wrongState(`container ${inst.name} is not running`);
    return (await this.io(inst)).attach();
  }

  async resize(inst: Instance, rows: number, cols: number): Promise<void> {
    if (inst.config.tty) (await this.io(inst)).resize(rows, cols);
  }

  /** In the container's root, through the guest agent (guest/run starts it with HULL_AGENT_ROOT). */
  async exec(inst: Instance, opts: ExecOptions): Promise<ExecSession> {
    const c = inst.config;
    const env = mergeEnv(c.env, opts.env);
    if (opts.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
    const agent = await this.links.agent(this.ref(inst), 30_000);
    return agentExec(agent, { ...opts, env, workingDir: opts.workingDir || c.workingDir || '/', user: opts.user || c.user });
  }

  async stats(inst: Instance): Promise<Stats> {
    const pid = await livePid(this.files(inst));
    if (!pid) throw wrongState(`container ${inst.name} is not running`);
    const p = await processStats(pid);
    return { memoryUsage: p.rssBytes, memoryLimit: memoryOf(inst), cpuUsageNs: p.cpuNs, pids: p.threads, pidsLimit: 0 };
  }

  /** The guest's processes (the container's, and guest/run's few around them). */
  async top(inst: Instance): Promise<Process[]> {
    return agentTop(await this.links.agent(this.ref(inst), 30_000));
  }

  /** Before its first start the container's disk holds its image's files: the layers, merged (no VM needed). */
  async imageFiles(inst: Instance, ctx: CreateContext): Promise<RootfsView> {
    return mergedLayersView(ctx.layerDirs, this.files(inst).dir);
  }

  async rootfs(inst: Instance): Promise<never> {
    throw new HullError('invalid', `container ${inst.name} runs in a VM of its own (--isolation vm): its files are on a VM disk, which Hull does not mount on the host`);
  }

  /**
   * cp through the guest (guest-copy.ts): only while the container runs, as
   * its files are on a disk only its guest reads. A stopped one's disk is
   * never mounted on the host: a filesystem its guest wrote is not given to
   * the host's kernel to parse.
   */
  async copier(inst: Instance): Promise<FileCopier> {
    const st = (await this.status(inst)).status;
    if (st !== 'running') throw wrongState(`container ${inst.name} runs in a VM of its own (--isolation vm) and is ${st === 'paused' ? 'paused' : 'not running'}: cp needs it running (its files are on its VM's disk, read only by its guest); start it first`);
    return new GuestCopier(await this.links.agent(this.ref(inst), 30_000));
  }

  /** What `inspect` adds: the accelerator, QEMU's pid, cgroup and user. */
  async inspect(inst: Instance): Promise<{ qemuPid: number; accel?: AccelChoice; cgroup?: VmCgroup | { error: string }; user?: QemuUser; dir: string }> {
    const files = this.files(inst);
    const pid = (await livePid(files)) ?? 0;
    const run = pid ? await readFile(join(files.dir, 'run.json'), 'utf8').then((t) => JSON.parse(t) as { accel: AccelChoice; cgroup?: VmCgroup | { error: string }; user?: QemuUser }, () => undefined) : undefined;
    return { qemuPid: pid, accel: run?.accel, cgroup: run?.cgroup, user: run?.user, dir: files.dir };
  }

  /** Daemon shutdown: let go of every instance, leaving them running. */
  async close(): Promise<void> {
    await Promise.all([...this.ios.keys()].map((id) => this.dropIo(id)));
    await this.links.close();
  }
}

const memoryOf = (inst: Instance): number => inst.config.resources.memoryBytes ?? DEFAULT_ISOLATED_MEMORY;

/**
 * The guest's mounts under /newroot, for run.sh: block volumes (disks), tmpfs
 * and shared directories (virtiofs), a parent before what is mounted inside
 * it (fewest path components first, as docker orders them).
 */
export function guestMounts(storage?: StorageContext): string {
  const all: Array<{ target: string; script: string }> = [
    ...(storage?.disks ?? []).filter((d) => d.target).map((d) => ({ target: d.target!, script: guestMountScript([d], []) })),
    ...(storage?.mounts ?? []).map((m) => ({ target: m.destination, script: guestMountScript([], [m]) })),
    ...(storage?.shares ?? []).map((s, i) => ({ target: s.target, script: guestShareScript(s, shareTag(i)) })),
  ];
  const depth = (t: string) => t.split('/').filter(Boolean).length;
  return all.sort((a, b) => depth(a.target) - depth(b.target)).map((m) => m.script).join('');
}


/** SIGTERM, TERM or 15 → 15. */
export function signalNumber(signal: string): number {
  if (/^\d+$/.test(signal)) return Number(signal);
  const name = (signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`) as keyof typeof os.signals;
  const n = os.signals[name];
  if (n === undefined) throw new HullError('invalid', `unknown signal "${signal}"`);
  return n;
}

/** The guest's run.sh: a clean environment, the container's root and workdir, its user, then exec. */
export function runScript(argv: string[], env: string[], workingDir: string, user?: { uid: number; gid: number }): string {
  const wd = workingDir || '/';
  const e = env.length ? env : ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
  const words = ['exec', '/bin/busybox', 'env', '-i', ...e.map(shQuote), '/bin/busybox', 'nsenter', '-r/newroot', shQuote(`-w/newroot${wd}`)];
  if (user) words.push('-S', String(user.uid), '-G', String(user.gid));
  words.push('--', ...argv.map(shQuote));
  return `mkdir -p ${shQuote(`/newroot${wd}`)}\n${words.join(' ')}\n`;
}
