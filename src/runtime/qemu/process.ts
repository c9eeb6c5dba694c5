import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { lstat, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { HullError, isHullError } from '../../core/errors.js';
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../../core/log-config.js';
import { copyRotations } from '../logs/copy-rotation.js';
import { LogFiles } from '../logs/files.js';
import { readInt } from '../../sys/fs.js';
import { pidAlive } from '../../sys/run.js';
import { asUser, type QemuUser } from './confine.js';
import type { VmFiles } from './files.js';
import { QmpClient } from './qmp/client.js';

/**
 * The QEMU process of a VM. It runs in a session of its own that outlives
 * Hull, as the VM's own unprivileged user (confine.ts), with its seccomp
 * sandbox fully on: which is why QEMU does not daemonize itself (-daemonize
 * forks and calls setsid, which `spawn=deny` and `elevateprivileges=deny`
 * forbid once the filter is in, and QEMU installs it before daemonizing).
 * Hull starts it detached instead, stdout and stderr into qemu.log, writes
 * the pidfile itself, waits until QEMU has bound its sockets (in q/; each is
 * then moved to its name in the VM directory) and answers on QMP, which it
 * does only once the machine is set up (disks open, -loadvm done). Anything
 * QEMU says before that (a bad option, a locked disk) becomes the error.
 *
 * A pid is only believed while /proc/<pid>/cmdline still names the VM's
 * directory, so a recycled pid is never taken for the VM.
 */
export const QEMU = process.env.HULL_QEMU ?? 'qemu-system-x86_64';

const START_TIMEOUT_MS = 60_000;

export interface LaunchOptions {
  /** The user QEMU runs as (none: Hull's own, when Hull is not root). */
  user?: QemuUser;
  /** The sockets QEMU binds (at files.bindPath of each), moved to these names once bound. */
  sockets: string[];
  /** Called between rotating the console log and starting QEMU: ownership and modes (confine.ts). */
  prepare?: () => Promise<void>;
  /** How the console log is kept: QEMU appends to it; at maxSize it is rotated (logs/copy-rotation.ts), here and while it runs (VmLinks' keeper). */
  log?: LogConfig;
}

export async function launch(argv: string[], files: VmFiles, o: LaunchOptions): Promise<number> {
  await copyRotations.rotateIfFull(new LogFiles(files.consoleLog), o.log ?? DEFAULT_LOG_CONFIG);
  await Promise.all(files.runtimeFiles.map((f) => rm(f, { force: true })));
  await o.prepare?.();
  const log = await open(files.qemuLog, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  let exited: Promise<void>;
  let pid: number;
  try {
    ({ pid, exited } = await start([...asUser(o.user), QEMU, ...argv], log.fd));
  } finally {
    await log.close();
  }
  await writeFile(files.pid, `${pid}\n`);
  let gone = false;
  const ended = exited.then(() => {
    gone = true;
    throw new HullError('internal', `${QEMU} exited while starting`);
  });
  try {
    await Promise.race([ready(files, o.sockets, o.user), ended]);
  } catch (e) {
    // A QMP connection refused is often QEMU on its way out: give its exit a moment to be seen.
    await Promise.race([ended.catch(() => undefined), new Promise((r) => setTimeout(r, 200))]);
    const stopped = gone || (await terminate(pid, files, 1000).then(
      () => true,
      () => false,
    ));
    // Nothing of a start that failed is left: a socket already moved to its name too (QEMU binds
    // its sockets before it opens the disks, so a failure there comes after the move).
    if (stopped) await Promise.all([...files.runtimeFiles, ...o.sockets.map((s) => files.bindPath(s))].map((f) => rm(f, { force: true })));
    // QEMU's own words (a bad option, a locked disk, no memory) say more than the symptom seen here.
    const said = (await readFile(files.qemuLog, 'utf8').catch(() => '')).trim();
    if (gone) throw startError(said || `it exited at once, saying nothing (${files.qemuLog})`);
    throw said && isHullError(e) ? e.wrap(`QEMU said: ${said}`) : e;
  }
  ended.catch(() => undefined);
  return pid;
}

/** Spawn detached (a session of its own, Hull's exit does not touch it); `exited` settles should it end. */
function start(argv: string[], logFd: number): Promise<{ pid: number; exited: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', logFd, logFd] });
    child.once('error', (e: NodeJS.ErrnoException) => reject(new HullError(e.code === 'ENOENT' ? 'unavailable' : 'internal', `${argv[0]}: ${e.code === 'ENOENT' ? 'not installed' : e.message}`)));
    child.once('spawn', () => {
      child.unref();
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      resolve({ pid: child.pid!, exited });
    });
  });
}

/** Every socket bound (then moved to its final name), and QMP answering: QEMU's main loop runs. */
async function ready(files: VmFiles, sockets: string[], user: QemuUser | undefined): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (const path of sockets) {
    const bound = files.bindPath(path);
    for (;;) {
      const st = await lstat(bound).catch(() => undefined);
      if (st?.isSocket() && (!user || st.uid === user.uid)) break;
      if (st && !st.isSocket()) throw new HullError('internal', `${bound} is not a socket`);
      if (Date.now() > deadline) throw new HullError('internal', `${QEMU} did not bind ${bound} within ${START_TIMEOUT_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await rename(bound, path);
  }
  const q = await QmpClient.connect(files.qmp, { timeoutMs: Math.max(1000, deadline - Date.now()) });
  try {
    await q.execute('query-status');
  } finally {
    await q.close();
  }
}

/** QEMU's own words, with the code that fits: no memory → resource, else internal. */
function startError(stderr: string): HullError {
  const why = stderr.trim();
  const code = /Cannot allocate memory|cannot set up guest memory/i.test(why) ? 'resource' : 'internal';
  return new HullError(code, `${QEMU} failed to start: ${why}`, { stderr: why });
}

/** The VM's QEMU pid while it runs, else undefined. */
export async function livePid(files: VmFiles): Promise<number | undefined> {
  const pid = await readInt(files.pid);
  return pid && (await isVmProcess(pid, files)) ? pid : undefined;
}

async function isVmProcess(pid: number, files: VmFiles): Promise<boolean> {
  if (!pidAlive(pid)) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  // A zombie has an empty cmdline: it is gone as far as the VM is concerned.
  return cmdline.includes(files.dir);
}

/** Wait until the process is gone; true if it went within `timeoutMs`. */
export async function waitGone(pid: number, files: VmFiles, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isVmProcess(pid, files)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** SIGTERM (QEMU exits cleanly on it), then SIGKILL; resolves once the process is gone. */
export async function terminate(pid: number, files: VmFiles, graceMs = 3000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  if (!(await isVmProcess(pid, files))) return;
  signal('SIGTERM');
  if (await waitGone(pid, files, graceMs)) return;
  signal('SIGKILL');
  if (!(await waitGone(pid, files, 10_000))) throw new HullError('internal', `QEMU (pid ${pid}) did not exit after SIGKILL`);
}

/** CPU time (ns) and resident memory (bytes) and threads of a process, from /proc. */
export async function processStats(pid: number): Promise<{ cpuNs: number; rssBytes: number; threads: number }> {
  const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
  // Fields after the command (which may hold spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]); // utime + stime, in USER_HZ (100/s on Linux)
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  const threads = /^Threads:\s+(\d+)/m.exec(status);
  return { cpuNs: ticks * 10_000_000, rssBytes: rss ? Number(rss[1]) * 1024 : 0, threads: threads ? Number(threads[1]) : 0 };
}
