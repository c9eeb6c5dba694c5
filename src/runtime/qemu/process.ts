import { readFile, rm, stat, rename } from 'node:fs/promises';
import { HullError, isHullError } from '../../core/errors.js';
import { readInt } from '../../sys/fs.js';
import { pidAlive, run } from '../../sys/run.js';
import type { VmFiles } from './files.js';

/**
 * The QEMU process of a VM. QEMU starts with `-daemonize -pidfile`: the
 * command returns once the machine is set up (sockets listening, disks open),
 * having forked a session leader that outlives Hull; anything QEMU says before
 * that (a bad option, a locked disk) comes back on stderr and becomes the
 * error. A pid is only believed while /proc/<pid>/cmdline still names the
 * VM's directory, so a recycled pid is never taken for the VM.
 */
export const QEMU = process.env.HULL_QEMU ?? 'qemu-system-x86_64';

/** Past this, console.log moves to console.log.1 at the next start (one old log kept). */
const CONSOLE_LOG_MAX = 8 * 1024 * 1024;

export async function launch(argv: string[], files: VmFiles): Promise<number> {
  await rotateConsoleLog(files);
  await Promise.all(files.runtimeFiles.map((f) => rm(f, { force: true })));
  try {
    await run([QEMU, ...argv, '-daemonize', '-pidfile', files.pid], { timeoutMs: 60_000 });
  } catch (e) {
    throw startError(e);
  }
  const pid = await readInt(files.pid);
  if (!pid || !(await isVmProcess(pid, files))) throw new HullError('internal', `${QEMU} started but left no live process in ${files.pid}`);
  return pid;
}

/** QEMU's own words, with the code that fits: no memory → resource, else internal. */
function startError(e: unknown): HullError {
  if (!isHullError(e) || e.code === 'unavailable') return e as HullError;
  const stderr = String(e.details?.stderr ?? '').trim();
  const why = stderr || e.message;
  const code = /Cannot allocate memory|cannot set up guest memory/i.test(why) ? 'resource' : 'internal';
  return new HullError(code, `${QEMU} failed to start: ${why}`, { stderr });
}

async function rotateConsoleLog(files: VmFiles): Promise<void> {
  const st = await stat(files.consoleLog).catch(() => undefined);
  if (st && st.size > CONSOLE_LOG_MAX) await rename(files.consoleLog, `${files.consoleLog}.1`);
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
