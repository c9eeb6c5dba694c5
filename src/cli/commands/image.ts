import type { Command } from 'commander';
import { resolve } from 'node:path';
import { imageJson, imageSummaryJson } from '../../api/docker-view/image.js';
import type { Image } from '../../core/image.js';
import { enc, forEachRef, getCtx } from '../context.js';
import { printList } from '../format.js';
import { inspectRefs } from '../inspect-refs.js';
import { IMAGE_HEADERS, imageContexts } from '../view/list-contexts.js';

interface ImageSummary {
  id: string;
  tags: string[];
  repoDigests?: string[];
  size: number;
  createdAt: string;
}

const hex = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/** docker's default `images` table. */
const IMAGE_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

export function register(program: Command): void {
  const listAction = async (opts: { quiet?: boolean; trunc?: boolean; format?: string }) => {
    const ctx = getCtx(program.opts().host);
    const xs = await ctx.client.call<ImageSummary[]>('GET', '/v1/images');
    const trunc = opts.trunc !== false;
    if (opts.quiet) return void process.stdout.write(xs.map((x) => `${trunc ? hex(x.id) : x.id}\n`).join(''));
    const now = Date.now();
    printList({ format: opts.format, items: xs, rows: () => xs.flatMap((x) => imageContexts(imageSummaryJson(x), { trunc, now })), headers: IMAGE_HEADERS, table: IMAGE_TABLE });
  };
  const listFlags = (c: Command) =>
    c
      .option('-q, --quiet', 'only ids')
      .option('--no-trunc', 'do not truncate ids')
      .option('--format <format>', "table (default), json (Hull's JSON), or a Go template as docker's: '{{.Repository}}:{{.Tag}}', 'table {{.ID}}\\t{{.Size}}'")
      .action(listAction);

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
    .description('show images as JSON')
    .argument('<image...>')
    .option('-f, --format <format>', "json (default: Hull's records) or a Go template over docker's document plus Hull's fields, e.g. '{{.Os}}/{{.Architecture}}', '{{json .Config.Env}}'")
    .action(async (refs: string[], o: { format?: string }) => {
      const client = getCtx(program.opts().host).client;
      await inspectRefs(refs, o.format, async (ref) => {
        const i = await client.call<Image>('GET', `/v1/images/${enc(ref)}`);
        return { hull: i, docker: imageJson(i) };
      });
    });
}
