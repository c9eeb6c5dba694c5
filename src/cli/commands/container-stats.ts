import type { Command } from 'commander';
import { formatSize } from '../../core/units.js';
import { shortId } from '../../core/ids.js';
import { enc, getCtx } from '../context.js';
import { printJson, table } from '../format.js';

interface StatsDoc {
  id: string;
  name: string;
  read: string;
  memoryUsage: number;
  memoryLimit: number;
  cpuUsageNs: number;
  pids: number;
  pidsLimit: number;
}

export function register(program: Command): void {
  program
    .command('stats')
    .description('live resource use of containers (all running ones by default)')
    .argument('[container...]')
    .option('--no-stream', 'print one sample and exit')
    .option('--format <format>', 'table (default) or json')
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
        if (opts.format === 'json') printJson(rows);
        else {
          if (opts.stream && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
          const lim = (n: number) => (n ? formatSize(n) : 'unlimited');
          const t = rows.map((s) => [
            shortId(s.id),
            s.name,
            `${s.cpuPercent.toFixed(2)}%`,
            `${formatSize(s.memoryUsage)} / ${lim(s.memoryLimit)}`,
            s.memoryLimit ? `${((s.memoryUsage / s.memoryLimit) * 100).toFixed(2)}%` : '--',
            `${s.pids}${s.pidsLimit ? ` / ${s.pidsLimit}` : ''}`,
          ]);
          process.stdout.write(`${table(['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'PIDS'], t)}\n`);
        }
        if (!opts.stream) return;
        prev = cur;
        prevAt = now;
        await new Promise((r) => setTimeout(r, 1000));
      }
    });

  program
    .command('top')
    .description('list the processes of a running container')
    .argument('<container>')
    .option('--format <format>', 'table (default) or json')
    .action(async (ref: string, opts: { format?: string }) => {
      const ctx = getCtx(program.opts().host);
      const r = await ctx.client.call<{ processes: Array<{ pid: number; user: string; cpuTime: string; command: string }> }>('GET', `/v1/containers/${enc(ref)}/top`);
      if (opts.format === 'json') return printJson(r.processes);
      process.stdout.write(`${table(['PID', 'USER', 'TIME', 'COMMAND'], r.processes.map((p) => [String(p.pid), p.user, p.cpuTime, p.command]))}\n`);
    });
}
