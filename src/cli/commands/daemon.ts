import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('daemon')
    .description('run the hull daemon in the foreground (logs to stdout)')
    .option('--root <dir>', 'state directory (env HULL_ROOT, default /var/lib/hull)')
    .action(async (opts: { root?: string }) => {
      const { runDaemon } = await import('../../daemon/main.js');
      try {
        await runDaemon({ host: program.opts().host, root: opts.root });
      } catch (e) {
        // A daemon that failed to start must not linger with half its handles open.
        process.stderr.write(`hull daemon: ${(e as Error).message}\n`);
        process.exit(1);
      }
    });
}
