import type { Command } from 'commander';
import { containerJson, containerSummaryJson, type SummaryLike } from '../../api/docker-view/container.js';
import { imageJson } from '../../api/docker-view/image.js';
import { networkJson, type NetworkLike } from '../../api/docker-view/network.js';
import type { Image } from '../../core/image.js';
import type { Instance } from '../../core/instance.js';
import type { Client } from '../client.js';
import { enc, getCtx } from '../context.js';
import { printList } from '../format.js';
import { inspectRefs } from '../inspect-refs.js';
import { CONTAINER_HEADERS, CONTAINER_TABLE, containerContext } from '../view/container-context.js';
import { collectFilter, toFilters } from '../filters.js';

interface Summary extends SummaryLike {
  type: string;
  isolation?: string;
}

/** `container(vm)` for a container in a VM of its own: the TYPE column. */
const typeOf = (x: Summary) => (x.isolation === 'vm' ? 'container(vm)' : x.type);

export function register(program: Command): void {
  program
    .command('ps')
    .alias('ls')
    .description('list containers (running ones; -a for all)')
    .option('-a, --all', 'show all containers')
    .option('-q, --quiet', 'only ids')
    .option('--no-trunc', 'do not truncate ids and commands')
    .option('-f, --filter <key=value>', 'keep those that match: name, label (k or k=v), status, ancestor, network, id, before, since, exited, isolation (repeatable)', collectFilter, [])
    .option('-n, --last <n>', 'show the n last created containers (all states)')
    .option('-l, --latest', 'show the last created container (all states)')
    .option('--format <format>', "table (default), json (Hull's JSON), or a Go template as docker's: '{{.Names}} {{.Status}}', 'table {{.ID}}\\t{{.Ports}}'")
    .action(async (opts: { all?: boolean; quiet?: boolean; trunc?: boolean; filter: string[]; last?: string; latest?: boolean; format?: string }) => {
      const ctx = getCtx(program.opts().host);
      const last = opts.latest ? 1 : opts.last === undefined ? undefined : lastCount(opts.last);
      const q = new URLSearchParams();
      if (opts.all || last !== undefined) q.set('all', '1');
      if (opts.filter.length) q.set('filters', JSON.stringify(toFilters(opts.filter)));
      let xs = await ctx.client.call<Summary[]>('GET', `/v1/containers${q.size ? `?${q}` : ''}`);
      if (last !== undefined) xs = [...xs].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, last);
      const trunc = opts.trunc !== false;
      if (opts.quiet) return void process.stdout.write(xs.map((x) => `${trunc ? x.id.slice(0, 12) : x.id}\n`).join(''));
      const now = Date.now();
      printList({
        format: opts.format,
        items: xs,
        rows: () => xs.map((x) => containerContext(containerSummaryJson(x, now), { trunc, type: typeOf(x), now })),
        headers: CONTAINER_HEADERS,
        table: CONTAINER_TABLE,
      });
    });

  program
    .command('inspect')
    .description('show low-level information on containers, VMs, images or networks, as JSON')
    .argument('<name...>')
    .option('-f, --format <format>', "json (default: Hull's records) or a Go template over docker's document plus Hull's fields, e.g. '{{.State.Status}}', '{{json .NetworkSettings.Networks}}'")
    .option('--type <type>', 'container (VMs too), image or network')
    .action(async (refs: string[], opts: { format?: string; type?: string }) => {
      if (opts.type && !['container', 'image', 'network'].includes(opts.type)) throw new Error(`invalid --type "${opts.type}": use container, image or network`);
      const client = getCtx(program.opts().host).client;
      await inspectRefs(refs, opts.format, (ref) => inspectAny(client, ref, opts.type));
    });
}

function lastCount(v: string): number {
  if (!/^\d+$/.test(v)) throw new Error(`invalid --last "${v}": expected a number`);
  return Number(v);
}

/** docker's `inspect`: a container (or VM), else an image, else a network, unless --type says which. */
async function inspectAny(client: Client, ref: string, type?: string): Promise<{ hull: object; docker: object }> {
  const tries: Array<[string, () => Promise<{ hull: object; docker: object }>]> = [
    ['container', async () => withView(await client.call<Instance>('GET', `/v1/containers/${enc(ref)}`), containerJson)],
    ['image', async () => withView(await client.call<Image>('GET', `/v1/images/${enc(ref)}`), imageJson)],
    ['network', async () => withView(await client.call<NetworkLike>('GET', `/v1/networks/${enc(ref)}`), networkJson)],
  ];
  for (const [kind, fetch] of tries) {
    if (type && type !== kind) continue;
    try {
      return await fetch();
    } catch (e) {
      if ((e as { code?: string }).code !== 'not_found') throw e;
    }
  }
  throw new Error(`no such object: ${ref}`);
}

export const withView = <T extends object>(hull: T, view: (x: T) => object) => ({ hull, docker: view(hull) });
