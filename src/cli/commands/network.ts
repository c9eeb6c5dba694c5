import type { Command } from 'commander';
import { confirmRemoval } from '../prompt.js';
import { shortId } from '../../core/ids.js';
import { networkJson, type NetworkLike } from '../../api/docker-view/network.js';
import { collect, enc, forEachRef, getCtx } from '../context.js';
import { printList } from '../format.js';
import { inspectRefs } from '../inspect-refs.js';
import { NETWORK_HEADERS, networkContext } from '../view/list-contexts.js';

interface NetworkSummary {
  id: string;
  name: string;
  driver: string;
  createdAt: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  isDefault: boolean;
  labels: Record<string, string>;
  containers: number;
}

const NETWORK_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Subnet}}\t{{.Gateway}}\t{{.Internal}}\t{{.Containers}}';

/** `hull network create|ls|inspect|rm|connect|disconnect`: docker's verbs. */
export function register(program: Command): void {
  const net = program.command('network').description('manage networks');
  const ctx = () => getCtx(program.opts().host);

  net
    .command('create')
    .description('create a bridge network')
    .argument('<name>')
    .option('--subnet <cidr>', 'IPv4 subnet (default: a free /24 from 10.89.0.0 on)')
    .option('--gateway <ip>', 'gateway address (default: the first of the subnet)')
    .option('--ip-range <cidr>', 'hand out addresses from this part of the subnet only')
    .option('--internal', 'no traffic in or out of the network but between its members')
    .option('-l, --label <k=v>', 'set a label (repeatable)', collect, [])
    .action(async (name: string, o: { subnet?: string; gateway?: string; ipRange?: string; internal?: boolean; label: string[] }) => {
      const labels = Object.fromEntries(o.label.map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')]));
      const body = { name, subnet: o.subnet, gateway: o.gateway, ipRange: o.ipRange, internal: !!o.internal, labels };
      const { id } = await ctx().client.call<{ id: string }>('POST', '/v1/networks', body);
      process.stdout.write(`${id}\n`);
    });

  net
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('-q, --quiet', 'only ids')
    .option('--no-trunc', 'do not truncate ids')
    .option('--format <format>', "table (default), json (Hull's JSON), or a Go template as docker's: '{{.Name}} {{.Driver}}', 'table {{.ID}}\\t{{.Subnet}}'")
    .action(async (o: { quiet?: boolean; trunc?: boolean; format?: string }) => {
      const xs = await ctx().client.call<NetworkSummary[]>('GET', '/v1/networks');
      const trunc = o.trunc !== false;
      if (o.quiet) return void process.stdout.write(xs.map((x) => `${trunc ? shortId(x.id) : x.id}\n`).join(''));
      printList({ format: o.format, items: xs, rows: () => xs.map((x) => networkContext(x, { trunc })), headers: NETWORK_HEADERS, table: NETWORK_TABLE });
    });

  net
    .command('inspect')
    .description('show networks as JSON, with the containers on them')
    .argument('<network...>')
    .option('-f, --format <format>', "json (default: Hull's records) or a Go template over docker's document plus Hull's fields, e.g. '{{range .IPAM.Config}}{{.Subnet}}{{end}}'")
    .action(async (refs: string[], o: { format?: string }) => {
      await inspectRefs(refs, o.format, async (ref) => {
        const n = await ctx().client.call<NetworkLike>('GET', `/v1/networks/${enc(ref)}`);
        return { hull: n, docker: networkJson(n) };
      });
    });

  net
    .command('rm')
    .alias('remove')
    .description('remove networks (refused while a container is on one)')
    .argument('<network...>')
    .action(async (refs: string[]) => {
      await forEachRef(refs, async (ref) => {
        await ctx().client.call('DELETE', `/v1/networks/${enc(ref)}`);
        process.stdout.write(`${ref}\n`);
      });
    });

  net
    .command('prune')
    .description('remove every network no container or VM is on (not the default one)')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (opts: { force?: boolean }) => {
      if (!opts.force && !(await confirmRemoval('all networks not used by at least one container'))) return;
      const r = await ctx().client.call<{ deleted: string[] }>('POST', '/v1/networks/prune');
      if (r.deleted.length) process.stdout.write(`Deleted Networks:\n${r.deleted.join('\n')}\n`);
    });

  net
    .command('connect')
    .description('connect a container to a network (at once if it runs)')
    .argument('<network>')
    .argument('<container>')
    .option('--alias <alias>', 'another name for the container on this network (repeatable)', collect, [])
    .option('--ip <address>', 'IPv4 address on this network')
    .action(async (network: string, container: string, o: { alias: string[]; ip?: string }) => {
      await ctx().client.call('POST', `/v1/networks/${enc(network)}/connect`, { container, aliases: o.alias, ip: o.ip });
    });

  net
    .command('disconnect')
    .description('disconnect a container from a network')
    .argument('<network>')
    .argument('<container>')
    .action(async (network: string, container: string) => {
      await ctx().client.call('POST', `/v1/networks/${enc(network)}/disconnect`, { container });
    });
}
