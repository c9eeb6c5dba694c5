import type { Command } from 'commander';
import { enc, getCtx } from '../context.js';
import { printJson, printList, table } from '../format.js';
import { STATS_HEADERS, statsContext } from '../view/list-contexts.js';

interface StatsDoc {
  id: string;
  name: string;
  read: string;
  memoryUsage: number;
  memoryLimit: number;
  /** What memoryUsage counts: cgroup (a container) or qemu-rss (a VM, a VM-isolated container). */
  memoryCounted?: string;
  cpuUsageNs: number;
  pids: number;
  pidsLimit: number;
}

/** docker's stats table; MEM USAGE says what it counts for a VM (QEMU's resident memory against the guest's RAM). */
const STATS_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.PIDs}}';

export function register(program: Command): void {
  program
    .command('stats')
    .description('live resource use of containers (all running ones by default)')
    .argument('[container...]')
    .option('--no-stream', 'print one sample and exit')
    .option('--format <format>', "table (default), json (Hull's JSON), or a Go template as docker's: '{{.Name}} {{.MemUsage}}'")
    .action(async (refs: string[], opts: { stream: boolean; format?: string }) => {
      const ctx = getCtx(program.opts().host);
      const names = refs.length ? refs : (await ctx.client.call<Array<{ id: string }>>('GET', '/v1/containers')).map((c) => c.id);
      const sample = () => Promise.all(names.map((r) => ctx.client.call<StatsDoc>('GET', `/v1/containers/${enc(r)}/stats`)));
      // CPU % needs two samples: usage delta over wall time.
      let prev = await sample();
      let prevAt = Date.now();
      await new Promise((r) => setTimeout(r, opts.stream ? 1000 : 500));
      for (;;) {
        const cur = await sample();
        const now = Date.now();
        const rows = cur.map((s, i) => {
          const cpu = ((s.cpuUsageNs - (prev[i]?.cpuUsageNs ?? s.cpuUsageNs)) / ((now - prevAt) * 1e6)) * 100;
          return { ...s, cpuPercent: Math.max(0, cpu) };
        });
        if (opts.stream && process.stdout.isTTY && opts.format !== 'json') process.stdout.write('\x1b[2J\x1b[H');
        printList({ format: opts.format, items: rows, rows: () => rows.map((s, i) => statsContext({ ...s, ref: names[i] })), headers: STATS_HEADERS, table: STATS_TABLE });
        if (!opts.stream) return;
        prev = cur;
        prevAt = now;
        await new Promise((r) => setTimeout(r, 1000));
      }
    });

  program
    .command('top')
    .description("list the processes of a running container; with ps options (e.g. aux, -eo pid,comm), the host's ps output for them, as docker's")
    .argument('<container>')
    .argument('[ps-options...]', 'options for ps (default: PID, USER, TIME, COMMAND)')
    .option('--format <format>', 'table (default) or json')
    .passThroughOptions()
    .action(async (ref: string, psArgs: string[], opts: { format?: string }) => {
      const ctx = getCtx(program.opts().host);
      const q = psArgs.length ? `?ps_args=${enc(psArgs.join(' '))}` : '';
      const r = await ctx.client.call<{ processes: Array<{ pid: number; user: string; cpuTime: string; command: string }>; titles?: string[]; rows?: string[][] }>('GET', `/v1/containers/${enc(ref)}/top${q}`);
      if (r.titles && r.rows) {
        if (opts.format === 'json') return printJson({ titles: r.titles, rows: r.rows });
        return void process.stdout.write(`${table(r.titles, r.rows)}\n`);
      }
      if (opts.format === 'json') return printJson(r.processes);
      process.stdout.write(`${table(['PID', 'USER', 'TIME', 'COMMAND'], r.processes.map((p) => [String(p.pid), p.user, p.cpuTime, p.command]))}\n`);
    });
}
