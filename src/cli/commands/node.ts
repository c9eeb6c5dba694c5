import type { Command } from 'commander';
import type { Node } from '../../api/contract/nodes.js';
import { shortId } from '../../core/ids.js';
import { formatSize } from '../../core/units.js';
import { enc, forEachRef, getCtx } from '../context.js';
import { printList } from '../format.js';
import { inspectRefs } from '../inspect-refs.js';

/** Template fields of `node ls` rows, as docker's `node ls` names theirs, with their column titles. */
const NODE_HEADERS: Record<string, string> = { ID: 'ID', Hostname: 'HOSTNAME', Status: 'STATUS', Availability: 'AVAILABILITY', ManagerStatus: 'MANAGER STATUS', EngineVersion: 'ENGINE VERSION', CPUs: 'CPUS', Memory: 'MEMORY', Labels: 'LABELS' };
const NODE_TABLE = 'table {{.ID}}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.EngineVersion}}\t{{.CPUs}}\t{{.Memory}}\t{{.Labels}}';

/** `hull node ls|inspect|update`: the hosts replicas are placed on, as swarm's `docker node`. */
export function register(program: Command): void {
  const ctx = () => getCtx(program.opts().host);
  const node = program.command('node').description('nodes: the hosts service replicas are placed on (one on a single host)');

  node
    .command('ls')
    .alias('list')
    .description('list nodes')
    .option('-q, --quiet', 'only ids')
    .option('--format <format>', 'table (default), json, or a Go template like {{.Hostname}}')
    .action(async (o: { quiet?: boolean; format?: string }) => {
      const xs = await ctx().client.call<Node[]>('GET', '/v1/nodes');
      if (o.quiet) return void process.stdout.write(xs.map((x) => `${x.id}\n`).join(''));
      const rows = () =>
        xs.map((x) => ({
          ID: shortId(x.id),
          Hostname: x.name,
          Status: cap(x.status),
          Availability: cap(x.availability),
          ManagerStatus: x.role === 'manager' ? 'Leader' : '',
          EngineVersion: x.engine.version,
          CPUs: String(x.resources.cpus),
          Memory: formatSize(x.resources.memoryBytes),
          Labels: Object.entries(x.labels).map(([k, v]) => `${k}=${v}`).join(','),
        }));
      printList({ format: o.format, items: xs, rows, headers: NODE_HEADERS, table: NODE_TABLE });
    });

  node
    .command('inspect')
    .description('show nodes as JSON')
    .argument('<node...>')
    .option('-f, --format <format>', 'json (default) or a Go template like {{.availability}}')
    .action(async (refs: string[], o: { format?: string }) => {
      await inspectRefs(refs, o.format, async (ref) => {
        const n = await ctx().client.call<Node>('GET', `/v1/nodes/${enc(ref)}`);
        return { hull: n, docker: n };
      });
    });

  node
    .command('update')
    .description("change a node's labels (for node.labels.KEY constraints) and availability (active, pause, drain)")
    .argument('<node>')
    .option('--label-add <key=value>', 'add or change a label (repeatable)', (v: string, p: string[] = []) => [...p, v])
    .option('--label-rm <key>', 'remove a label (repeatable)', (v: string, p: string[] = []) => [...p, v])
    .option('--availability <state>', 'active (takes replicas), pause (keeps its replicas, takes no new ones) or drain (its replicas go)')
    .action(async (ref: string, o: { labelAdd?: string[]; labelRm?: string[]; availability?: string }) => {
      if (!o.labelAdd && !o.labelRm && !o.availability) throw new Error('nothing to change: give --label-add, --label-rm or --availability');
      if (o.availability && !['active', 'pause', 'drain'].includes(o.availability)) throw new Error(`--availability "${o.availability}": use active, pause or drain`);
      const labelAdd: Record<string, string> = {};
      for (const kv of o.labelAdd ?? []) {
        const i = kv.indexOf('=');
        labelAdd[i < 0 ? kv : kv.slice(0, i)] = i < 0 ? '' : kv.slice(i + 1);
      }
      await forEachRef([ref], async (r) => {
        const n = await ctx().client.call<Node>('POST', `/v1/nodes/${enc(r)}/update`, { ...(o.labelAdd ? { labelAdd } : {}), ...(o.labelRm ? { labelRm: o.labelRm } : {}), ...(o.availability ? { availability: o.availability } : {}) });
        process.stdout.write(`${n.name}\n`);
      });
    });
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
