import type { Command } from 'commander';
import type { ReplicaRow, ServiceDetail, ServiceSummary } from '../../api/contract/services.js';
import { shortId } from '../../core/ids.js';
import { enc, exitWith, forEachRef, getCtx } from '../context.js';
import { ago, printJson, printList, table } from '../format.js';
import { inspectRefs } from '../inspect-refs.js';
import { serviceJson } from '../../api/docker-view/service.js';

/** Template fields of `service ls` and `service ps` rows, as docker's `service ls`/`service ps` name theirs, with their column titles. */
const SERVICE_HEADERS: Record<string, string> = { ID: 'ID', Name: 'NAME', App: 'APP', Mode: 'MODE', Kind: 'KIND', Replicas: 'REPLICAS', Image: 'IMAGE', Revision: 'REVISION', Rollout: 'ROLLOUT', Ports: 'PORTS', Address: 'ADDRESS' };
const SERVICE_TABLE = 'table {{.Name}}\t{{.App}}\t{{.Kind}}\t{{.Replicas}}\t{{.Image}}\t{{.Revision}}\t{{.Rollout}}\t{{.Ports}}\t{{.Address}}';
const REPLICA_HEADERS: Record<string, string> = { ID: 'ID', Name: 'NAME', Slot: 'SLOT', Revision: 'REVISION', CurrentState: 'STATE', Health: 'HEALTH', Ready: 'READY', Node: 'NODE', Address: 'ADDRESS', Restarts: 'RESTARTS', Error: 'NOTE' };
const REPLICA_TABLE = 'table {{.Name}}\t{{.Slot}}\t{{.Revision}}\t{{.CurrentState}}\t{{.Health}}\t{{.Ready}}\t{{.Node}}\t{{.Address}}\t{{.Restarts}}\t{{.Error}}';

/** `hull service ls|inspect|ps|scale|rm` and `hull rollout status|history|undo`. */
export function register(program: Command): void {
  const ctx = () => getCtx(program.opts().host);
  const svc = program.command('service').description('services: replicas kept running, balanced, rolled over');

  svc
    .command('ls')
    .alias('list')
    .description('list services')
    .option('-q, --quiet', 'only names')
    .option('--format <format>', 'table (default), json, or a Go template like {{.Name}}')
    .action(async (o: { quiet?: boolean; format?: string }) => {
      const xs = await ctx().client.call<ServiceSummary[]>('GET', '/v1/services');
      if (o.quiet) return void process.stdout.write(xs.map((x) => `${x.name}\n`).join(''));
      const rows = () =>
        xs.map((x) => ({ ID: shortId(x.id), Name: x.name, App: x.app, Mode: x.mode, Kind: kindOf(x), Replicas: `${x.ready}/${x.replicas}`, Image: x.image, Revision: String(x.revision), Rollout: x.rollout, Ports: x.ports.join(', '), Address: Object.values(x.vips).join(', ') }));
      printList({ format: o.format, items: xs, rows, headers: SERVICE_HEADERS, table: SERVICE_TABLE });
    });

  svc
    .command('inspect')
    .description('show services as JSON: spec, status, revisions, replicas')
    .argument('<service...>')
    .option('-f, --format <format>', 'json (default) or a Go template like {{.Rollout}}')
    .action(async (refs: string[], o: { format?: string }) => {
      await inspectRefs(refs, o.format, async (ref) => {
        const s = await ctx().client.call<ServiceDetail>('GET', `/v1/services/${enc(ref)}`);
        return { hull: s, docker: serviceJson(s) };
      });
    });

  svc
    .command('ps')
    .description("a service's replicas: state, health, revision, address, restarts and next attempt")
    .argument('<service>')
    .option('-q, --quiet', 'only ids')
    .option('--format <format>', 'table (default), json, or a Go template like {{.Name}}')
    .action(async (ref: string, o: { quiet?: boolean; format?: string }) => {
      const xs = await ctx().client.call<ReplicaRow[]>('GET', `/v1/services/${enc(ref)}/replicas`);
      if (o.quiet) return void process.stdout.write(xs.map((x) => `${shortId(x.id)}\n`).join(''));
      printList({ format: o.format, items: xs, rows: () => xs.map(replicaRow), headers: REPLICA_HEADERS, table: REPLICA_TABLE });
    });

  svc
    .command('scale')
    .description('set replica counts: hull service scale web=5 api=2')
    .argument('<service=replicas...>')
    .action(async (pairs: string[]) => {
      await forEachRef(pairs, async (pair) => {
        const m = /^([^=]+)=(\d+)$/.exec(pair);
        if (!m) throw new Error(`"${pair}": use SERVICE=REPLICAS`);
        await ctx().client.call('POST', `/v1/services/${enc(m[1])}/scale`, { replicas: Number(m[2]) });
        process.stdout.write(`${m[1]} scaled to ${m[2]}\n`);
      });
    });

  svc
    .command('rm')
    .alias('remove')
    .description('remove services and their replicas')
    .argument('<service...>')
    .action(async (refs: string[]) => {
      await forEachRef(refs, async (ref) => {
        await ctx().client.call('DELETE', `/v1/services/${enc(ref)}`);
        process.stdout.write(`${ref}\n`);
      });
    });

  const rollout = program.command('rollout').description("a service's rolling updates: watch, history, undo");
  rollout
    .command('status')
    .description('follow the rollout until it is out (exit 0), paused or rolled back (exit 1)')
    .argument('<service>')
    .option('--timeout <seconds>', 'give up after this long (exit 1)', '600')
    .option('-w, --watch <bool>', 'keep watching (false: print the state once)', 'true')
    .action(async (ref: string, o: { timeout: string; watch: string }) => {
      const deadline = Date.now() + Number(o.timeout) * 1000;
      let last = '';
      for (;;) {
        const s = await ctx().client.call<ServiceDetail>('GET', `/v1/services/${enc(ref)}`);
        const r = s.status.rollout;
        const line = `${s.name}: revision ${s.revision}, ${s.ready}/${s.replicas} ready: ${r.state}${r.message ? ` (${r.message})` : ''}`;
        if (line !== last) process.stdout.write(`${line}\n`);
        last = line;
        const done = r.state === 'complete' || r.state === 'none';
        if (done && s.ready >= s.replicas) return;
        if (r.state === 'paused' || r.state === 'rolled-back') exitWith(1);
        if (o.watch === 'false') return;
        if (Date.now() > deadline) {
          process.stderr.write(`Error: rollout of ${s.name} not done after ${o.timeout}s\n`);
          exitWith(1);
        }
        await new Promise((r2) => setTimeout(r2, 500));
      }
    });

  rollout
    .command('history')
    .description('the kept revisions of a service')
    .argument('<service>')
    .option('--format <format>', 'table (default) or json')
    .action(async (ref: string, o: { format?: string }) => {
      const s = await ctx().client.call<ServiceDetail>('GET', `/v1/services/${enc(ref)}`);
      if (o.format === 'json') return printJson(s.history);
      const rows = s.history.map((h) => [`${h.revision}${h.revision === s.revision ? ' (current)' : ''}`, ago(h.createdAt), h.image, h.hash, h.cause]);
      process.stdout.write(`${table(['REVISION', 'CREATED', 'IMAGE', 'TEMPLATE', 'CAUSE'], rows)}\n`);
    });

  rollout
    .command('undo')
    .description('roll back to the previous revision, or to --to-revision N')
    .argument('<service>')
    .option('--to-revision <n>', 'a kept revision (hull rollout history)')
    .action(async (ref: string, o: { toRevision?: string }) => {
      const body = o.toRevision === undefined ? {} : { toRevision: Number(o.toRevision) };
      const s = await ctx().client.call<ServiceSummary>('POST', `/v1/services/${enc(ref)}/rollback`, body);
      process.stdout.write(`${s.name} rolling back (revision ${s.revision})\n`);
    });
}

const kindOf = (x: ServiceSummary) => (x.kind === 'vm' ? 'vm' : x.isolation === 'vm' ? 'container(vm)' : 'container');

function replicaRow(r: ReplicaRow) {
  const note = r.draining ? 'draining' : r.nextRestartAt ? `restarting ${inWords(r.nextRestartAt)} (exit ${r.exitCode})` : r.error ? r.error : r.state === 'exited' ? `exit ${r.exitCode}` : '';
  return { ID: shortId(r.id), Name: r.name, Slot: String(r.slot), Revision: String(r.revision), CurrentState: r.state, Health: r.health, Ready: r.ready ? 'yes' : 'no', Node: r.node, Address: Object.values(r.addresses).join(', '), Restarts: String(r.restarts), Error: note };
}

function inWords(iso: string): string {
  const s = Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 1000));
  return s === 0 ? 'now' : `in ${s}s`;
}
