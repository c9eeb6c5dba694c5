import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '..', '..');
const BIN = join(REPO, 'bin', 'hull');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program to its end with `input` as its stdin, collecting both streams; SIGKILLed after `timeoutMs` (60 s). */
export function runProgram(
  bin: string,
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string; name?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env, cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${opts.name ?? `${bin} ${args.join(' ')}`} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    p.stdin.on('error', () => undefined);
    p.stdin.end(opts.input ?? '');
  });
}

/**
 * A real daemon on a temporary root and socket, driven through the real CLI,
 * the way a user works. One per test file.
 */
export class TestDaemon {
  proc?: ChildProcess;
  logs = '';
  constructor(
    readonly root: string,
    readonly socket: string,
  ) {}

  /** Extra `hull daemon` flags (e.g. --insecure-registry), used by every spawn. */
  daemonArgs: string[] = [];

  static async start(daemonArgs: string[] = []): Promise<TestDaemon> {
    const root = await mkdtemp('/tmp/hull-');
    const d = new TestDaemon(root, join(root, 'hull.sock'));
    d.daemonArgs = daemonArgs;
    await d.spawn();
    return d;
  }

  async spawn(): Promise<void> {
    const proc = spawn(process.execPath, [BIN, '-H', `unix://${this.socket}`, 'daemon', '--root', this.root, ...this.daemonArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HULL_LOG_LEVEL: 'info', HULL_DASHBOARD: 'off' }, // a test that wants the dashboard passes --dashboard
    });
    this.proc = proc;
    const from = this.logs.length;
    proc.stdout!.on('data', (b: Buffer) => (this.logs += b.toString()));
    proc.stderr!.on('data', (b: Buffer) => (this.logs += b.toString()));
    const deadline = Date.now() + 30_000;
    while (!this.logs.slice(from).includes('hull daemon ready')) {
      if (proc.exitCode !== null) throw new Error(`daemon exited: ${this.logs}`);
      if (Date.now() > deadline) throw new Error(`daemon did not start: ${this.logs}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL the daemon: what a crash or OOM kill does. */
  async crash(): Promise<void> {
    const p = this.proc!;
    if (p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }

  /** Run the CLI against this daemon. */
  hull(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
    return runProgram(process.execPath, [BIN, '-H', `unix://${this.socket}`, ...args], { ...opts, name: `hull ${args.join(' ')}` });
  }

  /**
   * Run the CLI under a real pseudo-terminal (util-linux `script`), as a user
   * at a terminal does: each step's text is typed after its pause (ms).
   */
  hullTty(args: string[], steps: Array<[number, string]>, timeoutMs = 60_000): Promise<{ code: number; out: string }> {
    const cmd = [process.execPath, BIN, '-H', `unix://${this.socket}`, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    return new Promise((resolvePromise, reject) => {
      const p = spawn('script', ['-q', '-e', '-c', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString()));
      let at = 0;
      const timers = steps.map(([ms, text]) => setTimeout(() => p.stdin.write(text), (at += ms)));
      const t = setTimeout(() => {
        p.kill('SIGKILL');
        reject(new Error(`hull ${args.join(' ')} (on a pty) timed out\noutput: ${out}`));
      }, timeoutMs);
      p.on('close', (code) => {
        clearTimeout(t);
        timers.forEach(clearTimeout);
        resolvePromise({ code: code ?? -1, out });
      });
    });
  }

  /** Run the CLI and insist on exit 0; returns stdout. */
  async ok(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string> {
    const r = await this.hull(args, opts);
    if (r.code !== 0) throw new Error(`hull ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\ndaemon log (tail): ${this.logs.slice(-3000)}`);
    return r.stdout;
  }

  /** One field of an instance's state, as `inspect -f '{{.State.FIELD}}'` prints it. */
  async state(name: string, field: string): Promise<string> {
    return (await this.ok(['inspect', '-f', `{{.State.${field}}}`, name])).trim();
  }

  /** Remove every container, stop the daemon, unmount and delete the root. */
  async destroy(): Promise<void> {
    if (this.proc && this.proc.exitCode === null) {
      const ids = (await this.hull(['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
      if (ids.length) await this.hull(['rm', '-f', ...ids]);
      await this.stop();
    }
    if (existsSync(this.root)) await rm(this.root, { recursive: true, force: true }).catch(() => undefined);
  }
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 10_000, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
