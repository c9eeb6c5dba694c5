import type { Command } from 'commander';
import { MuxDecoder } from '../../api/streams.js';
import { collect, enc, exitWith, getCtx } from '../context.js';
import { relay } from '../stdio.js';

/** logs, exec, attach: the streams. */
export function register(program: Command): void {
  program
    .command('logs')
    .description("print a container's output")
    .argument('<container>')
    .option('-f, --follow', 'keep printing new output until the container stops')
    .option('-n, --tail <n>', 'only the last n lines', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option('--since <time>', 'only lines at or after this RFC 3339 time')
    .action(async (ref: string, opts: { follow?: boolean; tail: string; timestamps?: boolean; since?: string }) => {
      const ctx = getCtx(program.opts().host);
      const q = new URLSearchParams({ tail: opts.tail, follow: opts.follow ? '1' : '0', timestamps: opts.timestamps ? '1' : '0' });
      if (opts.since) q.set('since', opts.since);
      const res = await ctx.client.stream('GET', `/v1/containers/${enc(ref)}/logs?${q}`);
      const raw = (res.headers['content-type'] ?? '').includes('raw-stream');
      const dec = new MuxDecoder((s, d) => (s === 2 ? process.stderr : process.stdout).write(d));
      res.on('data', (b: Buffer) => (raw ? process.stdout.write(b) : dec.push(b)));
      await new Promise((r) => res.on('end', r));
    });

  program
    .command('exec')
    .description('run a command in a running container')
    .argument('<container>')
    .argument('<command...>')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory')
    .option('-u, --user <user>', 'user to run as')
    .passThroughOptions()
    .action(async (ref: string, command: string[], opts: { interactive?: boolean; tty?: boolean; env: string[]; workdir?: string; user?: string }) => {
      const ctx = getCtx(program.opts().host);
      const tty = !!opts.tty;
      const { id } = await ctx.client.call<{ id: string }>('POST', `/v1/containers/${enc(ref)}/exec`, {
        cmd: command,
        env: opts.env,
        workingDir: opts.workdir ?? '',
        user: opts.user ?? '',
        tty,
        stdin: !!opts.interactive,
      });
      const socket = await ctx.client.upgrade(`/v1/exec/${id}/start`);
      const resize = (rows: number, cols: number) => void ctx.client.call('POST', `/v1/exec/${id}/resize?h=${rows}&w=${cols}`).catch(() => undefined);
      await relay(socket, { tty, stdin: !!opts.interactive, onResize: tty ? resize : undefined });
      const r = await ctx.client.call<{ exitCode: number | null }>('GET', `/v1/exec/${id}`);
      exitWith(r.exitCode ?? 125);
    });

  program
    .command('attach')
    .description("attach this terminal to a running container's stdio")
    .argument('<container>')
    .option('--no-stdin', 'do not attach stdin')
    .action(async (ref: string, opts: { stdin: boolean }) => {
      const ctx = getCtx(program.opts().host);
      const inst = await ctx.client.call<{ id: string; config: { tty: boolean; openStdin: boolean } }>('GET', `/v1/containers/${enc(ref)}`);
      const stdin = opts.stdin && inst.config.openStdin;
      const socket = await ctx.client.upgrade(`/v1/containers/${inst.id}/attach?stdin=${stdin ? 1 : 0}`);
      const resize = (rows: number, cols: number) => void ctx.client.call('POST', `/v1/containers/${inst.id}/resize?h=${rows}&w=${cols}`).catch(() => undefined);
      await relay(socket, { tty: inst.config.tty, stdin, onResize: inst.config.tty ? resize : undefined });
      const r = await ctx.client.call<{ exitCode: number }>('POST', `/v1/containers/${inst.id}/wait`);
      exitWith(r.exitCode);
    });
}
