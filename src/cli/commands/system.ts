import type { DashboardStatus } from '../../api/contract/system.js';
import type { Command } from 'commander';
import { infoJson, versionJson, type HullInfo, type HullVersion } from '../../api/docker-view/system.js';
import type { EventMessage } from '../../core/events.js';
import { VERSION } from '../../core/version.js';
import { getCtx } from '../context.js';
import { checkInspectFormat, inspectOne, printJson, streamTemplate } from '../format.js';
import { collectFilter, toFilters } from '../filters.js';
import { goMap, struct, withJson } from '../template/index.js';
import { parseTimeFlag } from '../timestamps.js';
import { inspectData } from '../view/go-data.js';
import { formatSize } from '../../core/units.js';

/** What `--storage-opt size=` does here: how it is enforced and the default, or why it cannot be. */
function storageLine(s: { filesystem: string; sizeLimits: string | null; reason: string | null; defaultSize: number | null } | undefined): string {
  if (!s) return 'unknown';
  if (!s.sizeLimits) return `no: ${s.reason}`;
  const how = s.sizeLimits === 'xfs-project' ? 'xfs project quotas' : 'btrfs qgroups';
  return `yes, ${how} (--storage-opt size=; default ${s.defaultSize ? formatSize(s.defaultSize) : 'none'})`;
}

/** Where the daemon keeps its state: the SQLite file, or etcd's endpoints and prefix. */
function storeLine(s: { kind: string; path: string | null; endpoints: string[] | null; prefix: string | null } | null | undefined): string {
  if (!s) return 'unknown';
  return s.kind === 'etcd' ? `etcd ${s.endpoints?.join(',')} (prefix ${s.prefix})` : `sqlite ${s.path}`;
}

export function register(program: Command): void {
  program
    .command('info')
    .description('show how the daemon runs on this host: cgroup mode, runtime, counts')
    .option('-f, --format <format>', "text (default), json (Hull's JSON), or a Go template over docker's info plus Hull's fields, e.g. '{{.NCPU}} {{.CgroupVersion}}'")
    .action(async (opts: { format?: string }) => {
      const ctx = getCtx(program.opts().host);
      checkInspectFormat(opts.format);
      const i = await ctx.client.call<HullInfo & Record<string, any>>('GET', '/v1/info');
      if (opts.format) return one(opts.format, i, () => inspectData(infoJson(i), i));
      const lines = [
        `Server version:   ${i.version}`,
        `Kernel:           ${i.kernel}`,
        `Cgroup mode:      ${i.cgroupMode}${i.cgroupNote ? ` (${i.cgroupNote})` : ''}`,
        `Default runtime:  ${i.defaultRuntime}`,
        `Runtimes:         ${Object.entries(i.runtimes as Record<string, string>).map(([k, v]) => `${k} (${v})`).join(', ') || 'none'}`,
        `Conmon:           ${i.conmon ?? 'not installed'}`,
        `KVM:              ${i.kvm ? 'yes' : 'no (VMs would use TCG emulation)'}`,
        `Storage limits:   ${storageLine(i.storage)}`,
        `Containers:       ${i.containers.total} (running ${i.containers.running}, paused ${i.containers.paused}, stopped ${i.containers.stopped})`,
        `Images:           ${i.images ?? '?'}`,
        `CPUs, memory:     ${i.ncpu ?? '?'}, ${i.memTotal ? `${(i.memTotal / 1073741824).toFixed(1)} GiB` : '?'}`,
        `Root dir:         ${i.root}`,
        `Store:            ${storeLine(i.store)}`,
        `Daemon:           pid ${i.daemonPid}, RSS ${(i.daemonRss / 1048576).toFixed(1)} MiB`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  program
    .command('version')
    .description('show the client and daemon versions')
    .option('-f, --format <format>', "text (default), json (Hull's JSON), or a Go template as docker's: '{{.Server.Version}}'")
    .action(async (opts: { format?: string }) => {
      const ctx = getCtx(program.opts().host);
      checkInspectFormat(opts.format);
      const v = await ctx.client.call<HullVersion>('GET', '/v1/version');
      if (opts.format) return one(opts.format, v, () => inspectData(versionJson(v, { version: VERSION }), v));
      process.stdout.write(`Hull ${v.version} (API ${v.apiVersion}, Node ${v.node}, ${v.os}/${v.arch}); client ${VERSION}\n`);
    });

  program
    .command('dashboard')
    .description("print the web dashboard's sign-in link (open it in a browser on this host, or through an SSH tunnel)")
    .option('-f, --format <format>', "text (default), json (Hull's JSON), or a Go template: '{{.url}}'")
    .option('--rotate', 'make a new token first: every browser signed in with the old one is out (its consoles and streams cut)')
    .action(async (opts: { format?: string; rotate?: boolean }) => {
      const ctx = getCtx(program.opts().host);
      checkInspectFormat(opts.format);
      const d = await ctx.client.call<DashboardStatus>(opts.rotate ? 'POST' : 'GET', opts.rotate ? '/v1/dashboard/rotate' : '/v1/dashboard');
      if (opts.format) return one(opts.format, d, () => inspectData(d, d));
      if (!d.loginUrl) throw new Error(`the daemon serves no dashboard: ${d.reason}`);
      process.stdout.write(`${d.loginUrl}\n`);
    });

  program
    .command('events')
    .description('stream events (containers, VMs, images, networks, services) until interrupted or --until')
    .option('--since <time>', 'also the past events the daemon still holds (its last 1024) from then: 10m, 1h30m, an RFC 3339 time, unix seconds')
    .option('--until <time>', 'stop at this time (at once, after the past ones, if it has passed)')
    .option('-f, --filter <key=value>', 'type (container, vm, image, network, volume, service, node), event, container, vm, image, network, label, service (a service and its replicas) (repeatable)', collectFilter, [])
    .option('--format <format>', "text (default), json (one object per line), or a Go template as docker's: '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'")
    .action(async (opts: { since?: string; until?: string; filter: string[]; format?: string }) => {
      const ctx = getCtx(program.opts().host);
      const q = new URLSearchParams();
      const now = Date.now();
      if (opts.since) q.set('since', parseTimeFlag(opts.since, '--since', now));
      if (opts.until) q.set('until', parseTimeFlag(opts.until, '--until', now));
      if (opts.filter.length) q.set('filters', JSON.stringify(toFilters(opts.filter)));
      const print = eventPrinter(opts.format);
      const res = await ctx.client.stream('GET', `/v1/events${q.size ? `?${q}` : ''}`);
      let buf = '';
      res.on('data', (b: Buffer) => {
        buf += b.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line) continue;
          try {
            process.stdout.write(print(line));
          } catch (e) {
            // A template that fails on an event ends the stream, as docker's does.
            process.stderr.write(`Error: failed to execute template: ${(e as Error).message}\n`);
            process.exit(1);
          }
        }
      });
      await new Promise((r) => res.on('end', r));
    });
}

/** `info` and `version` with --format: Hull's JSON, or the template over docker's shape and Hull's fields. */
function one(format: string, hull: object, data: () => unknown): void {
  const json: unknown[] = [];
  inspectOne(format, hull, data, json);
  if (json.length) printJson(json[0]);
}

/** Each event line as the format asks: docker's text line, the JSON line, or a template over docker's Go fields. */
function eventPrinter(format: string | undefined): (line: string) => string {
  if (format === 'json') return (line) => `${line}\n`;
  const tpl = format ? streamTemplate(format) : undefined;
  return (line) => {
    const ev = JSON.parse(line) as EventMessage;
    return tpl ? `${tpl.execute(eventContext(ev))}\n` : prettyEvent(ev);
  };
}

/** docker's events.Message as Go templates see it: Go field names; `json .` gives the wire form. */
function eventContext(ev: EventMessage) {
  const actor = struct('events.Actor', { ID: ev.Actor.ID, Attributes: goMap(ev.Actor.Attributes) });
  const ctx = struct('events.Message', { Status: ev.status ?? '', ID: ev.id ?? '', From: ev.from ?? '', Type: ev.Type, Action: ev.Action, Actor: actor, Scope: ev.scope, Time: ev.time, TimeNano: ev.timeNano });
  return withJson(ctx, ev);
}

/** `2024-01-02T15:04:05.123000000Z container start 4c01… (image=busybox, name=web)`, as docker prints one. */
export function prettyEvent(ev: EventMessage): string {
  const ms = Math.floor(ev.timeNano / 1e6);
  const time = `${new Date(ms).toISOString().slice(0, 19)}.${String(ms % 1000).padStart(3, '0')}000000Z`;
  const attrs = Object.keys(ev.Actor.Attributes)
    .sort()
    .map((k) => `${k}=${ev.Actor.Attributes[k]}`);
  return `${time} ${ev.Type} ${ev.Action} ${ev.Actor.ID}${attrs.length ? ` (${attrs.join(', ')})` : ''}\n`;
}
