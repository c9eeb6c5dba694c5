import type { Command } from 'commander';
import { MuxDecoder } from '../../api/streams.js';
import { collect, enc, exitWith, getCtx } from '../context.js';
import { checkTty, consoleSize, relay, reportDetach } from '../stdio.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../core/detach-keys.js';
import { proxySignals } from './container-run.js';
import { streamEnd } from '../client.js';

/** logs, exec, attach: the streams. */
export function register(program: Command): void {
  program
    .command('logs')
    .description("print a container's output")
    .argument('<container>')
    .option('-f, --follow', 'keep printing new output until the container stops')
    .option('-n, --tail <n>', 'only the last n lines', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option('--since <time>', 'only lines at or after this time: RFC 3339, Unix seconds, or a duration before now (10m, 1h30m)')
    .option('--until <time>', 'only lines at or before this time (same forms as --since)')
    .action(async (ref: string, opts: { follow?: boolean; tail: string; timestamps?: boolean; since?: string; until?: string }) => {
      const ctx = getCtx(program.opts().host);
      const q = new URLSearchParams({ tail: opts.tail, follow: opts.follow ? '1' : '0', timestamps: opts.timestamps ? '1' : '0' });
      if (opts.since) q.set('since', opts.since);
      if (opts.until) q.set('until', opts.until);
      const res = await ctx.client.stream('GET', `/v1/containers/${enc(ref)}/logs?${q}`);
      const raw = (res.headers['content-type'] ?? '').includes('raw-stream');
      // Keep the reader's pace: a slow pipe must not make the CLI hold the whole log.
      const write = (out: NodeJS.WriteStream, d: Buffer) => {
        if (!out.write(d)) {
          res.pause();
          out.once('drain', () => res.resume());
        }
      };
      const dec = new MuxDecoder((s, d) => write(s === 2 ? process.stderr : process.stdout, d));
      res.on('data', (b: Buffer) => (raw ? write(process.stdout, b) : dec.push(b)));
      await streamEnd(res, 'the log');
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
    .option('--detach-keys <keys>', `keys that leave the terminal, the command running (default ${DEFAULT_DETACH_KEYS})`)
    .passThroughOptions()
    .action(async (ref: string, command: string[], opts: { interactive?: boolean; tty?: boolean; env: string[]; workdir?: string; user?: string; detachKeys?: string }) => {
      const ctx = getCtx(program.opts().host);
      const tty = !!opts.tty;
      checkTty(!!opts.interactive, tty);
      const detachKeys = parseDetachKeys(opts.detachKeys);
      const { id } = await ctx.client.call<{ id: string }>('POST', `/v1/containers/${enc(ref)}/exec`, {
        cmd: command,
        env: opts.env,
        workingDir: opts.workdir ?? '',
        user: opts.user ?? '',
        tty,
        stdin: !!opts.interactive,
        ...consoleSize(tty),
      });
      const socket = await ctx.client.upgrade(`/v1/exec/${id}/start`);
      const resize = (rows: number, cols: number) => void ctx.client.call('POST', `/v1/exec/${id}/resize?h=${rows}&w=${cols}`).catch(() => undefined);
      if ((await relay(socket, { tty, stdin: !!opts.interactive, onResize: tty ? resize : undefined, detachKeys })) === 'detached') {
        reportDetach();
        exitWith(0);
      }
      const r = await ctx.client.call<{ exitCode: number | null }>('GET', `/v1/exec/${id}`);
      exitWith(r.exitCode ?? 125);
    });

  program
    .command('attach')
    .description("attach this terminal to a running container's stdio")
    .argument('<container>')
    .option('--no-stdin', 'do not attach stdin')
    .option('--detach-keys <keys>', `keys that leave the terminal, the container running (default ${DEFAULT_DETACH_KEYS})`)
    .action(async (ref: string, opts: { stdin: boolean; detachKeys?: string }) => {
      const ctx = getCtx(program.opts().host);
      const detachKeys = parseDetachKeys(opts.detachKeys);
      const inst = await ctx.client.call<{ id: string; state: { status: string }; config: { tty: boolean; openStdin: boolean } }>('GET', `/v1/containers/${enc(ref)}`);
      // docker's answers: attaching is for a running container (`start -a` attaches to one about to run).
      if (inst.state.status === 'paused') throw new Error('You cannot attach to a paused container, unpause it first');
      if (inst.state.status !== 'running') throw new Error('You cannot attach to a stopped container, start it first');
      checkTty(opts.stdin, inst.config.tty);
      const stdin = opts.stdin && inst.config.openStdin;
      const socket = await ctx.client.upgrade(`/v1/containers/${inst.id}/attach?stdin=${stdin ? 1 : 0}`);
      const resize = (rows: number, cols: number) => void ctx.client.call('POST', `/v1/containers/${inst.id}/resize?h=${rows}&w=${cols}`).catch(() => undefined);
      if (!inst.config.tty) proxySignals(ctx, inst.id);
      if ((await relay(socket, { tty: inst.config.tty, stdin, onResize: inst.config.tty ? resize : undefined, detachKeys })) === 'detached') {
        reportDetach();
        exitWith(0);
      }
      const r = await ctx.client.call<{ exitCode: number }>('POST', `/v1/containers/${inst.id}/wait`);
      exitWith(r.exitCode);
    });
}
