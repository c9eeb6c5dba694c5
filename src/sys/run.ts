import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { HullError, type ErrorCode } from '../core/errors.js';

/**
 * The one way Hull runs a program: an argv array (never a shell string built
 * from user input), a timeout after which the child gets SIGTERM and then
 * SIGKILL, and a non-zero exit turned into a HullError carrying stderr.
 */
export interface RunOptions {
  timeoutMs?: number;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Return the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  /** Code for the HullError thrown on failure (default 'internal'). */
  errorCode?: ErrorCode;
  /** Descriptors the child inherits as 3, 4, …: `/proc/self/fd/3` there is the object this process holds open. */
  fds?: number[];
}

export interface RunResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe', ...(opts.fds ?? [])] }) as ChildProcessWithoutNullStreams;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = opts.timeoutMs ? setTimeout(() => terminate(child.pid), opts.timeoutMs) : undefined;
    let timedOut = false;
    function terminate(pid?: number) {
      timedOut = true;
      if (!pid) return;
      child.kill('SIGTERM');
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 2000).unref();
    }
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const code = e.code === 'ENOENT' ? 'unavailable' : 'internal';
      reject(new HullError(code, `${file}: ${e.code === 'ENOENT' ? 'not installed' : e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const r = { code: code ?? 128, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (timedOut) return reject(new HullError('internal', `${file} ${args[0] ?? ''}: timed out after ${opts.timeoutMs} ms`));
      if (r.code !== 0 && !opts.allowFailure) {
        const why = r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`;
        return reject(new HullError(opts.errorCode ?? 'internal', `${file} ${args[0] ?? ''}: ${why}`, { stderr: r.stderr, exitCode: r.code }));
      }
      resolve(r);
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Is a process alive? (signal 0 probes without sending anything.) */
export function pidAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Start a program whose stdout is streamed (tar of a directory, say). Same
 * argv rule as run(); a non-zero exit surfaces as an 'error' on the stream.
 */
export function spawnStream(argv: string[], opts: { cwd?: string } = {}): NodeJS.ReadableStream {
  const [file, ...args] = argv;
  const child = spawn(file, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  child.on('close', (code) => {
    if (code !== 0) child.stdout.destroy(new HullError('internal', `${file}: ${stderr.trim() || `exit code ${code}`}`));
  });
  return child.stdout;
}
