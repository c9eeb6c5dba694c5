import type { Command } from 'commander';
import { type Duplex, Readable } from 'node:stream';
import { ProgressView, readEvents } from '../progress-view.js';
import { ApiError } from '../client.js';
import { enc, exitWith, forEachRef, getCtx, type Ctx } from '../context.js';
import { checkTty, relay, reportDetach, settled, type RelayEnd } from '../stdio.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../core/detach-keys.js';
import type { CreateOptions } from '../../api/contract/instances.js';
import { addCreateFlags, toCreateOptions } from './create-flags.js';

/** `hull run`, `hull create`, `hull start`: docker's verbs and flags. */
export function register(program: Command): void {
  addCreateFlags(program.command('run').description('create and start a container').argument('<image>').argument('[command...]'))
    .option('-d, --detach', 'run in the background and print the container id')
    .option('--detach-keys <keys>', `keys that leave an attached terminal, the container running (default ${DEFAULT_DETACH_KEYS})`)
    .option('--pull <policy>', 'missing (default): pull the image when it is not here; always; never')
    .passThroughOptions()
    .action(async (image: string, command: string[], opts: Record<string, unknown>) => {
      const ctx = getCtx(program.opts().host);
      let create: CreateOptions;
      let id: string;
      // docker's checks, before anything is made: a terminal for -it, keys that parse.
      if (!opts.detach) checkTty(!!opts.interactive, !!opts.tty);
      const detachKeys = parseDetachKeys(opts.detachKeys as string | undefined);
      try {
        create = toCreateOptions(image, command, opts);
        ({ id } = await createPulling(ctx, create, pullPolicy(opts.pull)));
      } catch (e) {
        // docker run: 125 when the daemon (or the flags) refused the container.
        process.stderr.write(`Error: ${(e as Error).message}\n`);
        return exitWith(125);
      }
      if (opts.detach) {
        await startOrExit(ctx, id);
        process.stdout.write(`${id}\n`);
        return;
      }
      exitWith(await runAttached(ctx, id, { tty: !!create.tty, stdin: !!create.openStdin, autoRemove: !!create.autoRemove, detachKeys }));
    });

  addCreateFlags(program.command('create').description('create a container without starting it').argument('<image>').argument('[command...]'))
    .option('--pull <policy>', 'missing (default): pull the image when it is not here; always; never')
    .passThroughOptions()
    .action(async (image: string, command: string[], opts: Record<string, unknown>) => {
      const ctx = getCtx(program.opts().host);
      const { id } = await createPulling(ctx, toCreateOptions(image, command, opts), pullPolicy(opts.pull));
      process.stdout.write(`${id}\n`);
    });

  program
    .command('start')
    .description('start one or more stopped containers')
    .argument('<container...>')
    .option('-a, --attach', 'attach stdout/stderr and exit with the container code')
    .option('-i, --interactive', "attach the container's stdin")
    .option('--detach-keys <keys>', `keys that leave an attached terminal, the container running (default ${DEFAULT_DETACH_KEYS})`)
    .action(async (refs: string[], opts: { attach?: boolean; interactive?: boolean; detachKeys?: string }) => {
      const ctx = getCtx(program.opts().host);
      if (opts.attach || opts.interactive) {
        const detachKeys = parseDetachKeys(opts.detachKeys);
        const inst = await ctx.client.call<{ id: string; config: { tty: boolean; openStdin: boolean; autoRemove: boolean } }>('GET', `/v1/containers/${enc(refs[0])}`);
        const stdin = !!opts.interactive && inst.config.openStdin;
        checkTty(stdin, inst.config.tty);
        exitWith(await runAttached(ctx, inst.id, { tty: inst.config.tty, stdin, autoRemove: inst.config.autoRemove, detachKeys }));
      }
      await forEachRef(refs, async (ref) => {
        await ctx.client.call('POST', `/v1/containers/${enc(ref)}/start`);
        process.stdout.write(`${ref}\n`);
      });
    });
}

type PullPolicy = 'missing' | 'always' | 'never';

function pullPolicy(v: unknown): PullPolicy {
  if (v === undefined) return 'missing';
  if (v === 'missing' || v === 'always' || v === 'never') return v;
  throw new Error(`invalid --pull "${String(v)}": use missing, always or never`);
}

/**
 * Create, pulling the image first as docker does: `always`, or `missing`
 * when the daemon does not have it ("Unable to find image … locally", then
 * the pull's progress on stderr, then the create again).
 */
async function createPulling(ctx: Ctx, create: CreateOptions, policy: PullPolicy): Promise<{ id: string }> {
  const pull = async () => {
    const res = await ctx.client.stream('POST', '/v1/images/pull', Readable.from([Buffer.from(JSON.stringify({ ref: create.image }))]), 'application/json');
    const view = new ProgressView(process.stderr, Boolean(process.stderr.isTTY));
    await readEvents(res, (e) => view.handle(e));
  };
  if (policy === 'always') await pull();
  try {
    return await ctx.client.call<{ id: string }>('POST', '/v1/containers', create);
  } catch (e) {
    const missing = e instanceof ApiError && e.code === 'not_found' && /^image "/.test(e.message);
    if (!missing || policy !== 'missing') throw e;
    process.stderr.write(`Unable to find image '${create.image}' locally\n`);
    await pull();
    return ctx.client.call<{ id: string }>('POST', '/v1/containers', create);
  }
}

async function startOrExit(ctx: Ctx, id: string): Promise<void> {
  try {
    await ctx.client.call('POST', `/v1/containers/${id}/start`);
  } catch (e) {
    await ctx.client.call('DELETE', `/v1/containers/${id}?force=1`).catch(() => undefined);
    process.stderr.write(`Error: ${(e as Error).message}\n`);
    exitWith(startFailureCode(e));
  }
}

/** docker run's exit codes when the container could not start: 127 not found, 126 not executable, 125 other. */
export function startFailureCode(e: unknown): number {
  if (e instanceof ApiError) {
    if (e.code === 'command_not_found') return 127;
    if (e.code === 'command_not_executable') return 126;
  }
  return 125;
}

/**
 * docker run's order: wait for the next exit, attach, start; then the exit
 * code comes from the wait (it also survives --rm removing the container).
 * Leaving with the detach keys ends the CLI with 0 and leaves the container
 * running (with --rm, the daemon removes it when it exits).
 */
async function runAttached(ctx: Ctx, id: string, o: { tty: boolean; stdin: boolean; autoRemove: boolean; detachKeys: Buffer }): Promise<number> {
  // With --rm, docker's CLI returns once the container is gone, so nothing of it is listed after.
  const waiting = ctx.client.call<{ exitCode: number }>('POST', `/v1/containers/${id}/wait?condition=${o.autoRemove ? 'removed' : 'next-exit'}`);
  waiting.catch(() => undefined);
  let relaying: Promise<RelayEnd>;
  let socket: Duplex;
  try {
    // Attaching sets the process up under conmon, so a missing command fails here already.
    socket = await ctx.client.upgrade(`/v1/containers/${id}/attach?stdin=${o.stdin ? 1 : 0}`);
    const resize = (rows: number, cols: number) => void ctx.client.call('POST', `/v1/containers/${id}/resize?h=${rows}&w=${cols}`).catch(() => undefined);
    relaying = relay(socket, { tty: o.tty, stdin: o.stdin, onResize: o.tty ? resize : undefined, detachKeys: o.detachKeys });
    if (!o.tty) proxySignals(ctx, id);
    try {
      await ctx.client.call('POST', `/v1/containers/${id}/start`);
    } catch (e) {
      socket.destroy();
      throw e;
    }
  } catch (e) {
    // Leave nothing behind: a container that could not start is removed, as --rm would.
    await ctx.client.call('DELETE', `/v1/containers/${id}?force=1`).catch(() => undefined);
    process.stderr.write(`Error: ${(e as Error).message}\n`);
    return startFailureCode(e);
  }
  const first = await Promise.race([relaying, waiting.then(() => 'exited' as const)]);
  if (first === 'detached') {
    reportDetach();
    return 0;
  }
  const { exitCode } = await waiting;
  await settled(relaying, socket);
  return exitCode;
}

/**
 * docker's --sig-proxy (without a terminal, where Ctrl-C is a byte): SIGINT,
 * SIGTERM and SIGHUP to this CLI go to the container instead.
 */
export function proxySignals(ctx: Ctx, id: string): void {
  const forward = (sig: NodeJS.Signals) => void ctx.client.call('POST', `/v1/containers/${id}/kill?signal=${sig}`).catch(() => undefined);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, forward);
}
