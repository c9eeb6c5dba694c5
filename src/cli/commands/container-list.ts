import type { Command } from 'commander';
import { shortId } from '../../core/ids.js';
import type { PortMapping } from '../../core/network.js';
import { formatPort } from '../../core/port-spec.js';
import { enc, exitWith, getCtx } from '../context.js';
import { ago, duration, goTemplate, printJson, table } from '../format.js';

interface Summary {
  id: string;
  name: string;
  type: string;
  isolation?: string;
  image: string;
  command: string;
  createdAt: string;
  status: string;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  ports?: PortMapping[];
}

export function statusText(s: Summary): string {
  switch (s.status) {
    case 'running':
      return `Up ${duration(s.startedAt)}`;
    case 'paused':
      return `Up ${duration(s.startedAt)} (Paused)`;
    case 'exited':
      return `Exited (${s.exitCode}) ${ago(s.finishedAt || s.createdAt)}`;
    case 'created':
      return 'Created';
    default:
      return s.status;
  }
}

export function register(program: Command): void {
  program
    .command('ps')
    .alias('ls')
    .description('list containers (running ones; -a for all)')
    .option('-a, --all', 'show all containers')
    .option('-q, --quiet', 'only ids')
    .option('--no-trunc', 'do not truncate ids and commands')
    .option('--format <format>', 'table (default), json, or a Go template like {{.Name}}')
    .action(async (opts: { all?: boolean; quiet?: boolean; trunc?: boolean; format?: string }) => {
      const ctx = getCtx(program.opts().host);
      const xs = await ctx.client.call<Summary[]>('GET', `/v1/containers${opts.all ? '?all=1' : ''}`);
      const id = (s: string) => (opts.trunc === false ? s : shortId(s));
      if (opts.quiet) return void process.stdout.write(xs.map((x) => `${id(x.id)}\n`).join(''));
      if (opts.format === 'json') return printJson(xs);
      if (opts.format && opts.format !== 'table') return void process.stdout.write(xs.map((x) => `${goTemplate(opts.format!, x)}\n`).join(''));
      const cmd = (c: string) => (opts.trunc === false || c.length <= 22 ? `"${c}"` : `"${c.slice(0, 19)}…"`);
      const ports = (x: Summary) => (x.ports ?? []).map(formatPort).join(', ');
      const rows = xs.map((x) => [id(x.id), x.isolation === 'vm' ? 'container(vm)' : x.type, x.image, cmd(x.command), ago(x.createdAt), statusText(x), ports(x), x.name]);
      process.stdout.write(`${table(['CONTAINER ID', 'TYPE', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], rows)}\n`);
    });

  program
    .command('inspect')
    .description('show low-level information on containers or images, as JSON')
    .argument('<name...>')
    .option('-f, --format <format>', 'json (default) or a Go template like {{.State.Status}}')
    .option('--type <type>', 'container or image')
    .action(async (refs: string[], opts: { format?: string; type?: string }) => {
      const ctx = getCtx(program.opts().host);
      const out: unknown[] = [];
      let failed = 0;
      for (const ref of refs) {
        try {
          if (opts.type === 'image') out.push(await ctx.client.call('GET', `/v1/images/${enc(ref)}`));
          else {
            try {
              out.push(await ctx.client.call('GET', `/v1/containers/${enc(ref)}`));
            } catch (e) {
              if (opts.type === 'container') throw e;
              out.push(await ctx.client.call('GET', `/v1/images/${enc(ref)}`));
            }
          }
        } catch (e) {
          failed++;
          const notFound = (e as { code?: string }).code === 'not_found';
          process.stderr.write(`Error: ${notFound ? `no such object: ${ref}` : (e as Error).message}\n`);
        }
      }
      if (opts.format && opts.format !== 'json') process.stdout.write(out.map((o) => `${goTemplate(opts.format!, o)}\n`).join(''));
      else printJson(out);
      if (failed) exitWith(1);
    });
}
