import type { Command } from 'commander';
import { resolve } from 'node:path';
import { formatSize } from '../../core/units.js';
import { enc, forEachRef, getCtx } from '../context.js';
import { ago, printJson, table } from '../format.js';

interface ImageSummary {
  id: string;
  tags: string[];
  size: number;
  createdAt: string;
}

const hex = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

export function register(program: Command): void {
  const listAction = async (opts: { quiet?: boolean; format?: string }) => {
    const ctx = getCtx(program.opts().host);
    const xs = await ctx.client.call<ImageSummary[]>('GET', '/v1/images');
    if (opts.quiet) return void process.stdout.write(xs.map((x) => `${hex(x.id)}\n`).join(''));
    if (opts.format === 'json') return printJson(xs);
    const rows: string[][] = [];
    for (const x of xs) {
      const tags = x.tags.length ? x.tags : ['<none>:<none>'];
      for (const t of tags) {
        const i = t.lastIndexOf(':');
        rows.push([t.slice(0, i), t.slice(i + 1), hex(x.id), ago(x.createdAt), formatSize(x.size)]);
      }
    }
    process.stdout.write(`${table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows)}\n`);
  };
  const listFlags = (c: Command) => c.option('-q, --quiet', 'only ids').option('--format <format>', 'table (default) or json').action(listAction);

  listFlags(program.command('images').description('list images'));
  const image = program.command('image').description('manage images');
  listFlags(image.command('ls').alias('list').description('list images'));

  image
    .command('import')
    .description('import an OCI image layout directory, or an OCI or docker-save tar')
    .argument('<path>')
    .argument('[name]', 'name[:tag] to give it')
    .action(async (path: string, name?: string) => {
      const ctx = getCtx(program.opts().host);
      const xs = await ctx.client.call<ImageSummary[]>('POST', '/v1/images/import', { path: resolve(path), name });
      for (const x of xs) process.stdout.write(`Loaded image: ${x.tags.join(', ') || x.id}\n`);
    });

  const rmi = async (refs: string[], opts: { force?: boolean }) => {
    const ctx = getCtx(program.opts().host);
    await forEachRef(refs, async (ref) => {
      const r = await ctx.client.call<{ untagged: string[]; deleted: string[] }>('DELETE', `/v1/images/${enc(ref)}${opts.force ? '?force=1' : ''}`);
      for (const u of r.untagged) process.stdout.write(`Untagged: ${u}\n`);
      for (const d of r.deleted) process.stdout.write(`Deleted: ${d}\n`);
    });
  };
  program.command('rmi').description('remove images').argument('<image...>').option('-f, --force', 'remove even if a container uses it').action(rmi);
  image.command('rm').description('remove images').argument('<image...>').option('-f, --force', 'remove even if a container uses it').action(rmi);
  image
    .command('inspect')
    .description('show an image as JSON')
    .argument('<image...>')
    .action(async (refs: string[]) => {
      const ctx = getCtx(program.opts().host);
      printJson(await Promise.all(refs.map((r) => ctx.client.call('GET', `/v1/images/${enc(r)}`))));
    });
}
