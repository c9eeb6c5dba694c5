import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HullError } from '../../core/errors.js';
import { Reverter } from '../../core/reverter.js';
import { resolveUser } from '../oci/user.js';
import { chooseAccel, type AccelChoice } from './accel.js';
import { configTar, shQuote } from './config-tar.js';
import * as dev from './devices.js';
import { loadGuest, type GuestArtifacts } from './guest.js';
import { CONFIG_FW_CFG, checkHostResources, machineArgs } from './machine.js';
import { QEMU } from './process.js';
import { makeExt4, unmountUnder, withMergedLayers } from './rootfs-image.js';

/**
 * runIsolated: one OCI container's program in its own small VM (`hull run
 * --isolation vm`). The image's layers become an ext4 disk (rootfs-image.ts);
 * QEMU boots Hull's kernel and initramfs with `hull.run=1`, and the guest's
 * /hull/run mounts the disk and runs the program with the image's env, args,
 * workdir and user (busybox `env -i … nsenter -r/newroot -w… -S uid -G gid`).
 * stdout and stderr stream back over two virtio-serial ports as they come;
 * a third carries "exit CODE OUTBYTES ERRBYTES", after which Hull waits for the
 * announced bytes and stops QEMU. Everything (disk image, sockets, QEMU) is
 * gone when it returns, whichever way it ends.
 *
 *   const r = await runIsolated({ layerDirs, argv: ['sh', '-c', 'exit 3'], onStdout: (b) => … });
 *   r.exitCode  // 3
 */
export interface IsolatedRunOptions {
  /** The image's unpacked layers, bottom first (ImageService.layerDirs). */
  layerDirs: string[];
  /** Entrypoint and cmd, together. */
  argv: string[];
  env?: string[];
  workingDir?: string;
  /** `user`, `uid`, `user:group` or `uid:gid`, resolved against the image's /etc/passwd and /etc/group. */
  user?: string;
  hostname?: string;
  memoryBytes?: number;
  /** vCPUs: --cpus 0.5 still gets one. */
  cpus?: number;
  onStdout?: (b: Buffer) => void;
  onStderr?: (b: Buffer) => void;
  /** Abort: QEMU is killed and the run ends with 137. */
  signal?: AbortSignal;
  /** The run ends with 137 after this long. */
  timeoutMs?: number;
  /** Where the disk image and sockets go (a short path: unix sockets). Default: the OS temp dir. */
  tmpDir?: string;
  guest?: GuestArtifacts;
  accel?: AccelChoice;
}

export interface IsolatedRunResult {
  exitCode: number;
  accel: AccelChoice;
  /** ms: making the disk image; from QEMU's start to the exit report; in all. */
  timings: { prepareMs: number; runMs: number; totalMs: number };
}

export const DEFAULT_ISOLATED_MEMORY = 256 * 1024 * 1024;
const RUN_DIR_PREFIX = 'hull-vmrun-';
const PORTS = { stdout: 'org.hull.stdout', stderr: 'org.hull.stderr', ctl: 'org.hull.ctl' } as const;

export async function runIsolated(o: IsolatedRunOptions): Promise<IsolatedRunResult> {
  const t0 = Date.now();
  if (!o.argv.length) throw new HullError('invalid', 'no command to run: the image has no entrypoint or cmd');
  const memoryBytes = o.memoryBytes ?? DEFAULT_ISOLATED_MEMORY;
  const cpus = o.cpus ?? 1;
  await checkHostResources(memoryBytes, cpus);
  const guest = o.guest ?? (await loadGuest());
  const accel = o.accel ?? (await chooseAccel(guest));
  // Every step's undo runs at the end, success or not: nothing of a run outlives it.
  const cleanup = new Reverter();
  try {
    const dir = await mkdtemp(join(o.tmpDir ?? tmpdir(), RUN_DIR_PREFIX));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    const disk = join(dir, 'rootfs.ext4');
    const runScript = await withMergedLayers(o.layerDirs, dir, async (merged) => {
      const user = o.user ? await resolveUser(merged, o.user) : undefined;
      await makeExt4(merged, disk);
      return guestScript(o, user);
    });
    const config = join(dir, 'config.tar');
    await writeFile(config, await configTar({ 'run.sh': runScript, hostname: o.hostname ?? 'hull' }));
    const prepareMs = Date.now() - t0;
    const ports = await listenPorts(dir, o);
    cleanup.add(() => ports.close());
    const argv = [
      ...machineArgs({ accel: accel.accel, memoryBytes, cpus, name: o.hostname ?? 'hull-run' }),
      '-kernel', guest.kernel, '-initrd', guest.initrd,
      '-append', 'console=ttyS0 quiet panic=-1 hull.run=1',
      '-no-reboot',
      ...dev.disk(disk, { format: 'raw', cacheUnsafe: true }),
      ...dev.virtioSerial(),
      ...dev.socketChardev('out', ports.paths.stdout, { server: false }), ...dev.serialPort('out', PORTS.stdout, 1),
      ...dev.socketChardev('err', ports.paths.stderr, { server: false }), ...dev.serialPort('err', PORTS.stderr, 2),
      ...dev.socketChardev('ctl', ports.paths.ctl, { server: false }), ...dev.serialPort('ctl', PORTS.ctl, 3),
      '-chardev', `file,id=ser0,path=${dev.optValue(join(dir, 'console.log'))}`, '-serial', 'chardev:ser0',
      ...dev.fwCfg(CONFIG_FW_CFG, config),
    ];
    const t1 = Date.now();
    const exitCode = await runQemu(argv, ports, o, dir);
    return { exitCode, accel, timings: { prepareMs, runMs: Date.now() - t1, totalMs: Date.now() - t0 } };
  } finally {
    await cleanup.revert();
  }
}

/**
 * What runs of a killed daemon left in `tmpDir` (their QEMUs died with it): a
 * layer mount, a disk image, sockets. Call at daemon start-up, before any run.
 */
export async function cleanupIsolatedLeftovers(tmpDir: string): Promise<void> {
  for (const d of (await readdir(tmpDir).catch(() => [] as string[])).filter((n) => n.startsWith(RUN_DIR_PREFIX))) {
    await unmountUnder(join(tmpDir, d));
    await rm(join(tmpDir, d), { recursive: true, force: true });
  }
}

/** The guest's run.sh: a clean environment, the container's root and workdir, its user, then exec. */
function guestScript(o: IsolatedRunOptions, user?: { uid: number; gid: number }): string {
  const wd = o.workingDir || '/';
  const env = o.env?.length ? o.env : ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
  const words = ['exec', '/bin/busybox', 'env', '-i', ...env.map(shQuote), '/bin/busybox', 'nsenter', '-r/newroot', shQuote(`-w/newroot${wd}`)];
  if (user) words.push('-S', String(user.uid), '-G', String(user.gid));
  words.push('--', ...o.argv.map(shQuote));
  return `mkdir -p ${shQuote(`/newroot${wd}`)}\n${words.join(' ')}\n`;
}

interface Ports {
  paths: Record<keyof typeof PORTS, string>;
  received: { stdout: number; stderr: number };
  /** Resolves with the guest's "exit CODE OUT ERR" line. */
  report: Promise<{ code: number; out: number; err: number }>;
  /** Resolves once `out` and `err` bytes have arrived. */
  drained(out: number, err: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Hull listens; QEMU connects to each socket as it starts (a guest write waits until it has). */
async function listenPorts(dir: string, o: IsolatedRunOptions): Promise<Ports> {
  const paths = { stdout: join(dir, 'out.sock'), stderr: join(dir, 'err.sock'), ctl: join(dir, 'ctl.sock') };
  const received = { stdout: 0, stderr: 0 };
  const servers: Server[] = [];
  const socks: Socket[] = [];
  let progress = () => undefined as void;
  let onReport: (v: { code: number; out: number; err: number }) => void = () => undefined;
  const report = new Promise<{ code: number; out: number; err: number }>((res) => (onReport = res));
  const listen = (path: string, onSock: (s: Socket) => void) =>
    new Promise<void>((res, rej) => {
      const srv = createServer((s) => {
        socks.push(s);
        s.on('error', () => undefined);
        onSock(s);
      });
      servers.push(srv);
      srv.once('error', rej);
      srv.listen(path, () => res());
    });
  const stream = (name: 'stdout' | 'stderr', cb?: (b: Buffer) => void) => (s: Socket) =>
    s.on('data', (b: Buffer) => {
      received[name] += b.length;
      cb?.(b);
      progress();
    });
  await listen(paths.stdout, stream('stdout', o.onStdout));
  await listen(paths.stderr, stream('stderr', o.onStderr));
  await listen(paths.ctl, (s) => {
    let buf = '';
    s.on('data', (b: Buffer) => {
      buf += b.toString();
      const m = /exit (\d+) (\d+) (\d+)\n/.exec(buf);
      if (m) onReport({ code: Number(m[1]), out: Number(m[2]), err: Number(m[3]) });
    });
  });
  return {
    paths,
    received,
    report,
    drained: (out, err, timeoutMs) =>
      new Promise<void>((res) => {
        const timer = setTimeout(res, timeoutMs);
        progress = () => {
          if (received.stdout >= out && received.stderr >= err) {
            clearTimeout(timer);
            res();
          }
        };
        progress();
      }),
    close: async () => {
      socks.forEach((s) => s.destroy());
      await Promise.all(servers.map((s) => new Promise((res) => s.close(res))));
    },
  };
}

/**
 * Run QEMU to the guest's exit report (or QEMU's own end, an abort, a timeout); always kill it after.
 * QEMU is Hull's child here and dies with it (`setpriv --pdeathsig KILL`): a guest whose output
 * nobody reads any more would otherwise wait on its ports for ever.
 */
async function runQemu(argv: string[], ports: Ports, o: IsolatedRunOptions, dir: string): Promise<number> {
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', QEMU, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((res) => child.once('close', () => res()));
  const spawnFailed = new Promise<never>((_, rej) => child.once('error', (e) => rej(new HullError('unavailable', `setpriv (util-linux), to run ${QEMU}: ${e.message}`))));
  let timer: NodeJS.Timeout | undefined;
  const stopped = new Promise<number>((res) => {
    o.signal?.addEventListener('abort', () => res(137), { once: true });
    if (o.signal?.aborted) res(137);
    if (o.timeoutMs) timer = setTimeout(() => res(137), o.timeoutMs);
  });
  try {
    return await Promise.race([
      spawnFailed,
      stopped,
      ports.report.then(async (rep) => {
        await ports.drained(rep.out, rep.err, 10_000);
        return rep.code;
      }),
      exited.then(async () => {
        const console = (await readFile(join(dir, 'console.log'), 'utf8').catch(() => '')).trim().split('\n').slice(-15).join('\n');
        const why = stderr.trim() || `the guest stopped before the program ended${console ? `; its console said:\n${console}` : ''}`;
        throw new HullError('internal', `${QEMU} failed: ${why}`, { stderr });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
}
