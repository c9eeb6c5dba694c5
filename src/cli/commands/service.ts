import type { Command } from 'commander';
import type { ReplicaRow, ServiceDetail, ServiceSummary } from '../../api/contract/services.js';
import { shortId } from '../../core/ids.js';
import { enc, exitWith, forEachRef, getCtx } from '../context.js';
import { ago, goTemplate, printJson, table } from '../format.js';

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
      if (o.format === 'json') return printJson(xs);
      if (o.format && o.format !== 'table') return void process.stdout.write(xs.map((x) => `${goTemplate(o.format!, x)}\n`).join(''));
      const rows = xs.map((x) => [x.name, x.app, kindOf(x), `${x.ready}/${x.replicas}`, x.image, String(x.revision), x.rollout, x.ports.join(', '), Object.values(x.vips).join(', ')]);
      process.stdout.write(`${table(['NAME', 'APP', 'KIND', 'READY', 'IMAGE', 'REVISION', 'ROLLOUT', 'PORTS', 'ADDRESS'], rows)}\n`);
    });

  svc
    .command('inspect')
    .description('show services as JSON: spec, status, revisions, replicas')
    .argument('<service...>')
    .option('-f, --format <format>', 'json (default) or a Go template like {{.Rollout}}')
    .action(async (refs: string[], o: { format?: string }) => {
      const out: unknown[] = [];
      await forEachRef(refs, async (ref) => void out.push(await ctx().client.call<ServiceDetail>('GET', `/v1/services/${enc(ref)}`)));
      if (o.format && o.format !== 'json') process.stdout.write(out.map((x) => `${goTemplate(o.format!, x)}\n`).join(''));
      else printJson(out);
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
      if (o.format === 'json') return printJson(xs);
      if (o.format && o.format !== 'table') return void process.stdout.write(xs.map((x) => `${goTemplate(o.format!, x)}\n`).join(''));
      process.stdout.write(`${table(['NAME', 'SLOT', 'REVISION', 'STATE', 'HEALTH', 'READY', 'NODE', 'ADDRESS', 'RESTARTS', 'NOTE'], xs.map(replicaRow))}\n`);
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

function replicaRow(r: ReplicaRow): string[] {
  const note = r.draining ? 'draining' : r.nextRestartAt ? `restarting ${inWords(r.nextRestartAt)} (exit ${r.exitCode})` : r.error ? r.error : r.state === 'exited' ? `exit ${r.exitCode}` : '';
  return [r.name, String(r.slot), String(r.revision), r.state, r.health, r.ready ? 'yes' : 'no', r.node, Object.values(r.addresses).join(', '), String(r.restarts), note];
}

function inWords(iso: string): string {
  const s = Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 1000));
  return s === 0 ? 'now' : `in ${s}s`;
}
