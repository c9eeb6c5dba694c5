import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { REPO, runProgram, TestDaemon, type CliResult } from './hull.js';

/**
 * The Docker side of the tests: a Hull daemon serving the Docker API, the
 * real docker clients run against it (docker 28's CLI on the machine, Debian's
 * docker.io 20.10 client that set-up unpacks into build/peers, Debian's
 * docker-compose), and a record of what each test covered and whether it
 * passed, from which scripts/gen-docker-compat.ts writes docs/docker-compat.md.
 */

export const COMPAT_DIR = join(REPO, 'build', 'docker-compat');

export interface DockerClient {
  /** How the docs name it: `docker 28.2`. */
  name: string;
  bin: string;
}

function versionOf(bin: string): string | undefined {
  const r = spawnSync(bin, ['version', '--format', '{{.Client.Version}}'], { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent' } });
  const v = r.stdout?.trim().match(/^\d+\.\d+/)?.[0];
  return v;
}

/** The docker clients on this machine: the one on PATH (docker 28 here) and Debian's docker.io client if set-up unpacked it. */
export function dockerClients(): DockerClient[] {
  const out: DockerClient[] = [];
  const onPath = spawnSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).stdout.trim();
  const debian = join(REPO, 'build', 'peers', 'docker.io', 'docker');
  for (const bin of [onPath, debian]) {
    if (!bin || !existsSync(bin)) continue;
    const v = versionOf(bin);
    if (v && !out.some((c) => c.name === `docker ${v}`)) out.push({ name: `docker ${v}`, bin });
  }
  return out;
}

export const hasCompose = () => spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' }).stdout.trim() !== '';

/**
 * A Hull daemon with the Docker socket on; its Docker API requests are
 * traced for the compat docs. `destroy` removes everything: the daemon's
 * containers and root, the socket's directory, the clients' config dir.
 */
export async function startDockerDaemon(suite: string): Promise<{ daemon: TestDaemon; sock: string; destroy: () => Promise<void> }> {
  mkdirSync(COMPAT_DIR, { recursive: true });
  const dir = await mkdtemp('/tmp/hull-dk-');
  const sock = join(dir, 'docker.sock');
  process.env.HULL_DOCKER_TRACE = join(COMPAT_DIR, `trace-${suite}.jsonl`);
  writeFileSync(process.env.HULL_DOCKER_TRACE, '');
  const daemon = await TestDaemon.start(['--docker-socket', sock]).catch(async (e: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw e;
  });
  const destroy = async () => {
    await daemon.destroy();
    await rm(dir, { recursive: true, force: true });
    await rm(configDir, { recursive: true, force: true });
  };
  return { daemon, sock, destroy };
}

/** A docker client's run against the socket, with its own empty config dir (no user's ~/.docker). */
export function runDocker(client: DockerClient, sock: string, args: string[], opts: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  return run(client.bin, args, sock, opts);
}

export function runCompose(sock: string, args: string[], opts: { input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  return run('docker-compose', args, sock, { ...opts, env: { COMPOSE_INTERACTIVE_NO_CLI: '1' } });
}

const configDir = join('/tmp', `hull-docker-config-${process.pid}`);

/** A client's environment: the socket, and a config dir of its own (no user's ~/.docker). */
const dockerEnv = (sock: string, more: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: configDir, ...more });

/** docker-compose's output as it comes (`logs -f`), until `until` matches it; then the command is stopped. */
export function composeUntil(sock: string, args: string[], until: RegExp, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('docker-compose', args, { cwd: opts.cwd, env: dockerEnv(sock) });
    let out = '';
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`docker-compose ${args.join(' ')}: ${until} not seen\n${out}`));
    }, opts.timeoutMs ?? 30_000);
    const seen = (b: Buffer) => {
      out += b.toString();
      if (!until.test(out)) return;
      clearTimeout(t);
      p.kill('SIGTERM');
      resolve(out);
    };
    p.stdout.on('data', seen);
    p.stderr.on('data', seen);
  });
}

function run(bin: string, args: string[], sock: string, opts: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string>; cwd?: string }): Promise<CliResult> {
  mkdirSync(configDir, { recursive: true });
  return runProgram(bin, args, { input: opts.input, timeoutMs: opts.timeoutMs, env: dockerEnv(sock, { DOCKER_CLI_HINTS: 'false', ...opts.env }), cwd: opts.cwd });
}

/** Insist on exit 0; the message has both streams. */
export async function ok(r: Promise<CliResult>, what: string): Promise<string> {
  const res = await r;
  if (res.code !== 0) throw new Error(`${what} exited ${res.code}\nstdout: ${res.stdout}\nstderr: ${res.stderr}`);
  return res.stdout;
}

/** A docker client on a pty (script), typing `steps` ([delay ms, text]) as a user would. */
export function dockerTty(client: DockerClient, sock: string, args: string[], steps: Array<[number, string]>, timeoutMs = 30_000): Promise<{ code: number; out: string }> {
  const cmd = [client.bin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const p = spawn('script', ['-q', '-e', '-c', `stty cols 100 rows 30; ${cmd}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: dockerEnv(sock) });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    let at = 0;
    const timers = steps.map(([ms, text]) => setTimeout(() => p.stdin.write(text), (at += ms)));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} (on a pty) timed out\noutput: ${out}`));
    }, timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      timers.forEach(clearTimeout);
      resolve({ code: code ?? -1, out });
    });
  });
}

/**
 * What a suite covered, per client: `compat.covers('docker run', 'docker 28.2')`
 * inside a test marks that feature passed for that client if the test
 * passes, failed if it fails. `save()` (afterAll) writes the suite's file.
 */
export class Compat {
  private results: Record<string, Record<string, 'pass' | 'fail'>> = {};
  constructor(
    readonly suite: string,
    readonly kind: 'cli' | 'compose' | 'sdk' | 'api',
  ) {}

  covers(client: string, ...features: string[]): void {
    onTestFinished(({ task }) => {
      const state = task.result?.state === 'pass' ? 'pass' : 'fail';
      for (const f of features) {
        const row = (this.results[f] ??= {});
        // A feature failed in any test stays failed.
        row[client] = row[client] === 'fail' ? 'fail' : state;
      }
    });
  }

  save(): void {
    mkdirSync(COMPAT_DIR, { recursive: true });
    const file = join(COMPAT_DIR, `${this.suite}.json`);
    writeFileSync(file, JSON.stringify({ suite: this.suite, kind: this.kind, date: new Date().toISOString(), results: this.results }, null, 1));
  }
}
