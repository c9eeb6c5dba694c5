import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { mergeEnv } from '../../core/env.js';
import { idMapOf, type Instance, type Resources } from '../../core/instance.js';
import { Reverter } from '../../core/reverter.js';
import * as overlay from '../../storage/overlay.js';
import { readInt } from '../../sys/fs.js';
import { pidAlive } from '../../sys/run.js';
import type { CreateContext, Driver, ExecOptions, ExecSession, ExitStatus, RuntimeStatus } from '../driver.js';
import type { HostInfo } from '../host.js';
import { connectAttach, resizeTerminal } from './attach.js';
import { oomKills, readStats } from './cgroups.js';
import { spawnConmon } from './conmon.js';
import { boundMounts } from './bound-mounts.js';
import { ensureMountTargets } from './mount-targets.js';
import { checkMountTargets } from '../../storage/volumes/mount-targets.js';
import type { OciRuntime } from './runtime-cli.js';
import { allowsTun, buildSpec, hostNofileLimit, initMounts } from './spec.js';
import { findInit } from './init-binary.js';
import { securitySpec } from './security-spec.js';
import { mappedDevices } from './devices.js';
import { RootfsLimits, giveRootfs } from './rootfs-setup.js';
import { resolveCapabilities } from './capabilities.js';
import { resolveUser } from './user.js';
import { topProcesses } from './top.js';
import { BPF_ANNOTATION, SeccompCache, binaryIdentity } from './seccomp-cache.js';
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../../core/log-config.js';
import { rotateForStart } from '../logs/conmon-rotation.js';
import { LogFiles } from '../logs/files.js';
import { LogKeepers } from '../logs/keeper.js';
import type { OciSpec } from './spec-types.js';

const userns = (m: ReturnType<typeof idMapOf>) => (m ? { hostId: m.hostUid, hostGid: m.hostGid, size: m.size } : undefined);

/** An exec's log: conmon writes one, nobody reads it. */
const EXEC_LOG_MAX = 1024 * 1024;

const logPolicy = (inst: Instance): LogConfig => inst.config.logConfig ?? DEFAULT_LOG_CONFIG;

export interface ContainerDriverOptions {
  root: string;
  /** How the runtime names paths under the root (runtime-root.ts); the paths themselves when absent. */
  runtimePath?: (p: string) => string;
  host: HostInfo;
  runtimes: Map<string, OciRuntime>;
  conmonPath: string | undefined;
}

/**
 * Containers through an OCI runtime (crun or runc) supervised by conmon.
 * Files of a container, under <root>/containers/<id>/ (the OCI bundle):
 *   config.json, rootfs/{upper,work,merged}, ctr.log, pidfile, conmon.pid,
 *   attach (socket), ctl and winsz (fifos). Exit codes land in <root>/exits/<id>.
 */
export class ContainerDriver implements Driver {
  readonly type = 'container' as const;
  readonly exitDir: string;

  private seccomp: SeccompCache;
  private limits: RootfsLimits;
  /** The log keepers of the containers running under this daemon (logs/keeper.ts). */
  private logs = new LogKeepers();

  constructor(private o: ContainerDriverOptions) {
    this.exitDir = join(o.root, 'exits');
    this.seccomp = new SeccompCache(join(o.root, 'runtime', 'seccomp-cache'));
    this.limits = new RootfsLimits(o.root, o.host.storage);
  }

  dir(inst: Instance): string {
    return join(this.o.root, 'containers', inst.id);
  }
  private rootfsDir(inst: Instance) {
    return join(this.dir(inst), 'rootfs');
  }
  cgroupsPath(inst: Instance): string {
    return `/hull/${inst.id}`;
  }
  logPath(inst: Instance): string {
    return join(this.dir(inst), 'ctr.log');
  }

  runtime(name: string): OciRuntime {
    const rt = this.o.runtimes.get(name);
    if (!rt) {
      const have = [...this.o.runtimes.keys()].join(', ') || 'none';
      throw new HullError('unavailable', `OCI runtime "${name}" is not installed (installed: ${have})`);
    }
    return rt;
  }

  private conmon(): string {
    if (!this.o.conmonPath) throw new HullError('unavailable', 'conmon is not installed: run `npm run setup`');
    return this.o.conmonPath;
  }

  async create(inst: Instance, ctx: CreateContext): Promise<void> {
    this.runtime(inst.config.runtime);
    // A capability the daemon lacks or a device missing on this host is an error now, not at start.
    resolveCapabilities(inst.config.security ?? {}, this.o.host.capabilities);
    if (inst.config.init) await findInit();
    for (const d of inst.config.security?.devices ?? []) await mappedDevices(d);
    await mkdir(this.dir(inst), { recursive: true, mode: 0o711 });
    await this.limits.limit(this.dir(inst), this.rootfsDir(inst), inst.config.resources.storageBytes);
    await overlay.prepare(this.rootfsDir(inst));
    const map = idMapOf(inst.config);
    if (map) await giveRootfs(this.rootfsDir(inst), ctx.layerDirs, map);
    await mkdir(this.exitDir, { recursive: true });
  }

  private mountRootfs(inst: Instance, ctx: CreateContext): Promise<string> {
    return overlay.mount(this.rootfsDir(inst), ctx.layerDirs, { metacopy: inst.config.userns });
  }

  async init(inst: Instance, ctx: CreateContext): Promise<{ pid: number; monitorPid: number }> {
    const rt = this.runtime(inst.config.runtime);
    const conmonPath = this.conmon();
    const dir = this.dir(inst);
    const r = new Reverter();
    try {
      const merged = await this.mountRootfs(inst, ctx);
      r.add(() => overlay.unmount(this.rootfsDir(inst)));
      const init = inst.config.init ? await findInit() : undefined;
      await ensureMountTargets(merged, [...(ctx.network?.mounts ?? []), ...initMounts({ init })]);
      await checkMountTargets(merged, ctx.storage?.mounts ?? []);
      const spec = await this.spec(inst, merged, ctx, init);
      const bpf = await this.precompiledSeccomp(rt, spec);
      await writeFile(join(dir, 'config.json'), JSON.stringify(spec));
      await rm(join(this.exitDir, inst.id), { force: true });
      await rm(join(dir, 'oom'), { force: true });
      rotateForStart(new LogFiles(this.logPath(inst)), logPolicy(inst).maxFile);
      r.add(() => rt.delete(inst.id, true));
      const handle = spawnConmon({
        conmonPath,
        runtime: rt,
        containerId: inst.id,
        cuuid: inst.id,
        name: inst.name,
        bundle: dir,
        pidFile: join(dir, 'pidfile'),
        conmonPidFile: join(dir, 'conmon.pid'),
        exitDir: this.exitDir,
        logPath: this.logPath(inst),
        logSizeMax: logPolicy(inst).maxSize,
        terminal: inst.config.tty,
        stdin: inst.config.openStdin,
      });
      const pid = await handle.pid;
      await this.denyRuncTun(rt, inst, spec);
      if (bpf.key && !bpf.used) await this.seccomp.learn(bpf.key, join(rt.stateRoot, inst.id));
      const monitorPid = (await readInt(join(dir, 'conmon.pid'))) ?? 0;
      this.logs.keep(inst.id, this.logPath(inst), logPolicy(inst), 'conmon');
      r.success();
      return { pid, monitorPid };
    } finally {
      await r.revert();
    }
  }

  /**
   * runc always appends `c 10:200 rwm` (/dev/net/tun) to the device rules it
   * is given (libcontainer/specconv AllowedDevices), after the spec's, so the
   * spec cannot take it back; crun allows only what the spec says. On cgroup
   * v1 the rule is taken back here, between `runc create` and `start`, so both
   * runtimes enforce the one list. (On v2 runc's rules are an eBPF program:
   * there the nodev rootfs and the seccomp mknod rule keep a tun node from
   * being made or opened.)
   */
  private async denyRuncTun(rt: OciRuntime, inst: Instance, spec: OciSpec): Promise<void> {
    if (rt.name !== 'runc' || this.o.host.cgroupMode === 'v2' || allowsTun(spec)) return;
    await writeFile(join('/sys/fs/cgroup/devices', this.cgroupsPath(inst), 'devices.deny'), 'c 10:200 rwm');
  }

  /**
   * crun takes a compiled seccomp filter in an annotation: reuse the one it
   * compiled for the same profile before (see seccomp-cache.ts). runc has no
   * such annotation and compiles as usual.
   */
  private async precompiledSeccomp(rt: OciRuntime, spec: OciSpec): Promise<{ key?: string; used: boolean }> {
    const profile = spec.linux?.seccomp;
    if (rt.name !== 'crun' || !profile) return { used: false };
    const key = this.seccomp.key(await binaryIdentity(rt.path), profile);
    const b64 = await this.seccomp.get(key);
    if (b64) spec.annotations = { ...(spec.annotations ?? {}), [BPF_ANNOTATION]: b64 };
    return { key, used: !!b64 };
  }

  private async spec(inst: Instance, merged: string, ctx: CreateContext, init: string | undefined) {
    const c = inst.config;
    const user = await resolveUser(merged, c.user);
    const rtPath = this.o.runtimePath ?? ((p: string) => p);
    return buildSpec({
      rootfs: rtPath(merged),
      args: [...c.entrypoint, ...c.cmd],
      init,
      env: c.env,
      cwd: c.workingDir || '/',
      user,
      terminal: c.tty,
      hostname: c.hostname,
      cgroupsPath: this.cgroupsPath(inst),
      memoryBytes: c.resources.memoryBytes,
      cpus: c.resources.cpus,
      pidsLimit: c.resources.pidsLimit,
      noNewPrivileges: c.noNewPrivileges,
      userns: userns(idMapOf(c)),
      nofile: hostNofileLimit(),
      netnsPath: ctx.network?.netnsPath,
      usernsPath: ctx.network?.usernsPath,
      hostNetwork: ctx.network?.hostNetwork,
      mounts: [...(ctx.network?.mounts ?? []), ...(ctx.storage?.mounts ?? [])].map((m) => ({ ...m, source: m.type === 'bind' ? rtPath(m.source) : m.source })),
      ...(await securitySpec(c, this.o.host)),
    });
  }

  async start(inst: Instance, ctx: CreateContext): Promise<{ pid: number; monitorPid: number }> {
    const rt = this.runtime(inst.config.runtime);
    // Usually the runtime holds nothing (init runs now) or a created container that an
    // attach set up; only an unexpected state costs a `state` call.
    if (!(await rt.knows(inst.id))) return this.initAndStart(inst, ctx);
    const monitorPid = (await readInt(join(this.dir(inst), 'conmon.pid'))) ?? 0;
    try {
      await rt.start(inst.id);
      return { pid: (await readInt(join(this.dir(inst), 'pidfile'))) ?? 0, monitorPid };
    } catch (e) {
      const st = await rt.state(inst.id);
      if (st?.status === 'running' || st?.status === 'paused') return { pid: st.pid, monitorPid };
      await this.release(inst);
      if (st?.status === 'stopped') return this.initAndStart(inst, ctx);
      throw e;
    }
  }

  private async initAndStart(inst: Instance, ctx: CreateContext): Promise<{ pid: number; monitorPid: number }> {
    const started = await this.init(inst, ctx);
    try {
      await this.runtime(inst.config.runtime).start(inst.id);
    } catch (e) {
      await this.release(inst);
      throw e;
    }
    return started;
  }

  async stop(inst: Instance, timeoutSec: number, signal = 'SIGTERM'): Promise<void> {
    const rt = this.runtime(inst.config.runtime);
    if (await this.exitStatus(inst)) return;
    await rt.kill(inst.id, signal);
    if (await this.waitExit(inst, timeoutSec * 1000)) return;
    await rt.kill(inst.id, 'SIGKILL', true);
    if (await this.waitExit(inst, 15_000)) return;
    throw new HullError('internal', `container ${inst.name} did not exit after SIGKILL`);
  }

  /** Wait for conmon's exit file; true when it appeared in time. */
  async waitExit(inst: Instance, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.exitStatus(inst)) return true;
      // conmon gone without an exit file: nothing will ever report this exit, stop waiting.
      if (!(await this.monitorAlive(inst))) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async kill(inst: Instance, signal: string): Promise<void> {
    await this.runtime(inst.config.runtime).kill(inst.id, signal);
  }

  async pause(inst: Instance): Promise<void> {
    await this.runtime(inst.config.runtime).pause(inst.id);
  }

  async resume(inst: Instance): Promise<void> {
    await this.runtime(inst.config.runtime).resume(inst.id);
  }

  async status(inst: Instance): Promise<RuntimeStatus> {
    const st = await this.runtime(inst.config.runtime).state(inst.id);
    if (!st) return { status: 'absent', pid: 0 };
    return { status: st.status === 'creating' ? 'created' : st.status, pid: st.pid };
  }

  async exitStatus(inst: Instance): Promise<ExitStatus | undefined> {
    const file = join(this.exitDir, inst.id);
    const code = await readInt(file);
    if (code === undefined) return undefined;
    const st = await stat(file).catch(() => undefined);
    const oomFile = await stat(join(this.dir(inst), 'oom')).then(
      () => true,
      () => false,
    );
    const oomKilled = oomFile || (await oomKills(this.o.host.cgroupMode, this.cgroupsPath(inst))) > 0;
    return { exitCode: code, oomKilled, finishedAt: (st?.mtime ?? new Date()).toISOString() };
  }

  async release(inst: Instance): Promise<void> {
    this.logs.drop(inst.id);
    // Independent: the processes are gone, so the rootfs can go while the runtime forgets it.
    await Promise.all([this.runtime(inst.config.runtime).delete(inst.id, true), overlay.unmount(this.rootfsDir(inst))]);
  }

  async remove(inst: Instance): Promise<void> {
    this.logs.drop(inst.id);
    const rt = this.o.runtimes.get(inst.config.runtime);
    if (rt) await rt.delete(inst.id, true);
    await overlay.unmount(this.rootfsDir(inst));
    await this.limits.unlimit(this.dir(inst), this.rootfsDir(inst), inst.config.resources.storageBytes);
    await overlay.remove(this.rootfsDir(inst));
    await rm(this.dir(inst), { recursive: true, force: true });
    await rm(join(this.exitDir, inst.id), { force: true });
  }

  async rootfs(inst: Instance, ctx: CreateContext) {
    const dir = this.rootfsDir(inst);
    const wasMounted = await overlay.isMounted(overlay.mergedDir(dir));
    const path = await this.mountRootfs(inst, ctx);
    // Unmount only what we mounted: a running container keeps its rootfs.
    const release = async () => (wasMounted ? undefined : overlay.unmount(dir));
    const map = idMapOf(inst.config); // ranges are allocated with the same host uid and gid (id-ranges.ts)
    const ids = map ? { hostId: map.hostUid, size: map.size } : undefined;
    return { path, release, mounts: await boundMounts(this.dir(inst)), ids };
  }

  async attach(inst: Instance) {
    return connectAttach(this.dir(inst));
  }

  async resize(inst: Instance, rows: number, cols: number): Promise<void> {
    await resizeTerminal(this.dir(inst), rows, cols);
  }

  async update(inst: Instance, r: Resources): Promise<void> {
    await this.runtime(inst.config.runtime).update(inst.id, r);
  }

  async exec(inst: Instance, opts: ExecOptions): Promise<ExecSession> {
    const rt = this.runtime(inst.config.runtime);
    const id = newId();
    const dir = join(this.o.root, 'exec', id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const r = new Reverter();
    r.add(() => rm(dir, { recursive: true, force: true }));
    try {
      const base = JSON.parse(await readFile(join(this.dir(inst), 'config.json'), 'utf8'));
      const merged = overlay.mergedDir(this.rootfsDir(inst));
      const proc = { ...base.process, terminal: opts.tty, args: opts.cmd };
      proc.env = mergeEnv(base.process.env ?? [], opts.env);
      if (opts.workingDir) proc.cwd = opts.workingDir;
      if (opts.user) proc.user = await resolveUser(merged, opts.user);
      if (opts.tty && opts.consoleSize) proc.consoleSize = { height: opts.consoleSize.rows, width: opts.consoleSize.cols };
      if (opts.tty && !proc.env.some((e: string) => e.startsWith('TERM='))) proc.env.push('TERM=xterm');
      await writeFile(join(dir, 'process.json'), JSON.stringify(proc));
      const handle = spawnConmon({
        conmonPath: this.conmon(),
        runtime: rt,
        containerId: inst.id,
        cuuid: id,
        name: inst.name,
        bundle: dir,
        pidFile: join(dir, 'pid'),
        conmonPidFile: join(dir, 'conmon.pid'),
        exitDir: dir,
        logPath: join(dir, 'exec.log'),
        // Nobody reads an exec's log (its output goes to the client): it only must not grow.
        logSizeMax: EXEC_LOG_MAX,
        terminal: opts.tty,
        stdin: opts.stdin,
        exec: { processSpec: join(dir, 'process.json') },
      });
      await handle.ready;
      const stdio = await connectAttach(dir);
      const exitCode = handle.exitCode.finally(() => rm(dir, { recursive: true, force: true }));
      exitCode.catch(() => undefined); // the caller may never ask when start() failed
      r.success();
      return {
        id,
        stdio,
        start: async () => {
          handle.go();
          return handle.pid;
        },
        exitCode,
        resize: (rows, cols) => resizeTerminal(dir, rows, cols),
      };
    } finally {
      await r.revert();
    }
  }

  async stats(inst: Instance) {
    return readStats(this.o.host.cgroupMode, this.cgroupsPath(inst));
  }

  async top(inst: Instance) {
    return topProcesses(this.o.host.cgroupMode, this.cgroupsPath(inst));
  }

  /**
   * Is this container's conmon running? Its pid is believed only while the
   * process there is conmon with this container's bundle: a conmon that has
   * exited can stay a zombie until PID 1 reaps it (a second or more on some
   * hosts, never on others), and a pid can be reused. Adopting a running
   * container (daemon start) also takes up keeping its log.
   */
  async monitorAlive(inst: Instance): Promise<boolean> {
    const pid = await readInt(join(this.dir(inst), 'conmon.pid'));
    const alive = pid !== undefined && pidAlive(pid) && (await isMonitorOf(pid, this.dir(inst)));
    if (alive) this.logs.keep(inst.id, this.logPath(inst), logPolicy(inst), 'conmon');
    return alive;
  }

  /** Daemon shutdown: let go of the logs (conmon goes on writing each; the next daemon keeps them). */
  close(): void {
    this.logs.close();
  }
}

/** A zombie's cmdline is empty; another program's does not name the bundle. */
async function isMonitorOf(pid: number, bundle: string): Promise<boolean> {
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  return argv.includes(bundle);
}
