import type { Command } from 'commander';
import { getCtx } from '../context.js';
import { printJson } from '../format.js';
import { formatSize } from '../../core/units.js';

/** What `--storage-opt size=` does here: how it is enforced and the default, or why it cannot be. */
function storageLine(s: { filesystem: string; sizeLimits: string | null; reason: string | null; defaultSize: number | null } | undefined): string {
  if (!s) return 'unknown';
  if (!s.sizeLimits) return `no: ${s.reason}`;
  const how = s.sizeLimits === 'xfs-project' ? 'xfs project quotas' : 'btrfs qgroups';
  return `yes, ${how} (--storage-opt size=; default ${s.defaultSize ? formatSize(s.defaultSize) : 'none'})`;
}

export function register(program: Command): void {
  program
    .command('info')
    .description('show how the daemon runs on this host: cgroup mode, runtime, counts')
    .option('--format <format>', 'text (default) or json')
    .action(async (opts: { format?: string }) => {
      const ctx = getCtx(program.opts().host);
      const i = await ctx.client.call<Record<string, any>>('GET', '/v1/info');
      if (opts.format === 'json') return printJson(i);
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
        `Root dir:         ${i.root}`,
        `Daemon:           pid ${i.daemonPid}, RSS ${(i.daemonRss / 1048576).toFixed(1)} MiB`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  program
    .command('version')
    .description('show the client and daemon versions')
    .option('--format <format>', 'text (default) or json')
    .action(async (opts: { format?: string }) => {
      const ctx = getCtx(program.opts().host);
      const v = await ctx.client.call<Record<string, string>>('GET', '/v1/version');
      if (opts.format === 'json') return printJson(v);
      process.stdout.write(`Hull ${v.version} (API ${v.apiVersion}, Node ${v.node}, ${v.os}/${v.arch})\n`);
    });

  program
    .command('events')
    .description('stream lifecycle events (create, start, die, oom, stop, destroy, ...) until interrupted')
    .option('--format <format>', 'text (default) or json (one object per line)')
    .action(async (opts: { format?: string }) => {
      const ctx = getCtx(program.opts().host);
      const res = await ctx.client.stream('GET', '/v1/events');
      let buf = '';
      res.on('data', (b: Buffer) => {
        buf += b.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (opts.format === 'json') process.stdout.write(`${line}\n`);
          else {
            const e = JSON.parse(line) as { time: string; type: string; id: string; name: string; exitCode?: number };
            process.stdout.write(`${e.time} container ${e.type} ${e.id.slice(0, 12)} (name=${e.name}${e.exitCode !== undefined ? `, exitCode=${e.exitCode}` : ''})\n`);
          }
        }
      });
      await new Promise((r) => res.on('end', r));
    });
}
