import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';
import { packContext } from '../../image/build/context-tar.js';
import { collect, enc, getCtx } from '../context.js';
import { formatSize } from '../../core/units.js';
import { confirmRemoval } from '../prompt.js';
import { readEvents } from '../progress-view.js';

interface BuildFlags {
  tag: string[];
  file?: string;
  buildArg: string[];
  cache: boolean;
  target?: string;
  quiet?: boolean;
}

/** `hull build` and `hull image build`: send the context, print the daemon's steps and RUN output as docker does. */
export function register(program: Command): void {
  const client = () => getCtx(program.opts().host).client;
  const image = program.commands.find((c) => c.name() === 'image') ?? program.command('image').description('manage images');
  for (const parent of [program, image]) {
    parent
      .command('build')
      .description('build an image from a Dockerfile')
      .argument('<context>', 'the build context directory')
      .option('-t, --tag <name>', 'name the image NAME[:TAG] (repeatable)', collect, [])
      .option('-f, --file <path>', 'the Dockerfile (default: CONTEXT/Dockerfile)')
      .option('--build-arg <key=value>', 'set a build-time variable (repeatable)', collect, [])
      .option('--no-cache', 'do not use the cache: run every step')
      .option('--target <stage>', 'build up to this stage')
      .option('-q, --quiet', 'print only the image id')
      .action(async (ctxArg: string, o: BuildFlags) => {
        const ctxDir = resolve(ctxArg);
        if (!(await stat(ctxDir).then((s) => s.isDirectory(), () => false))) throw new Error(`build context "${ctxArg}" is not a directory`);
        const dockerfile = o.file ? relative(ctxDir, resolve(o.file)) : 'Dockerfile';
        if (dockerfile.startsWith(`..${sep}`) || dockerfile === '..') throw new Error(`the Dockerfile (${o.file}) must be inside the build context`);
        const q = [
          ...o.tag.map((t) => `t=${enc(t)}`),
          `dockerfile=${enc(dockerfile.split(sep).join('/'))}`,
          ...o.buildArg.map((a) => `buildarg=${enc(a.includes('=') ? a : `${a}=${process.env[a] ?? ''}`)}`),
          ...(o.cache ? [] : ['nocache=1']),
          ...(o.target ? [`target=${enc(o.target)}`] : []),
        ].join('&');
        const body = await packContext(ctxDir, dockerfile);
        const res = await client().stream('POST', `/v1/build?${q}`, body, 'application/x-tar');
        const r = await readEvents(res, (e) => {
          if (o.quiet) return;
          if (e.type === ('output' as string)) process.stdout.write(String(e.data ?? ''));
          else if (e.message !== undefined) process.stdout.write(`${e.message}\n`);
        });
        if (o.quiet) process.stdout.write(`${String(r.id)}\n`);
      });
  }

  program
    .command('builder')
    .description('manage the build cache')
    .command('prune')
    .description('remove the build cache: every cached step, and the layers only it kept')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (opts: { force?: boolean }) => {
      if (!opts.force && !(await confirmRemoval('all build cache'))) return;
      const r = await client().call<{ steps: number; layers: number; spaceReclaimed: number }>('POST', '/v1/build/prune');
      process.stdout.write(`Deleted build cache: ${r.steps} steps, ${r.layers} unpacked layers\nTotal reclaimed space: ${formatSize(r.spaceReclaimed)}\n`);
    });
}
