import { Command, CommanderError } from 'commander';
import { ApiError } from './client.js';
import { ExitSignal } from './context.js';
import { FormatError } from './format.js';
import { EXIT_SIGPIPE, flushStdio, guardStdio, isEpipe } from './stdio.js';
import { register as registerDaemon } from './commands/daemon.js';
import { register as registerRun } from './commands/container-run.js';
import { register as registerLifecycle } from './commands/container-lifecycle.js';
import { register as registerList } from './commands/container-list.js';
import { register as registerIo } from './commands/container-io.js';
import { register as registerStats } from './commands/container-stats.js';
import { register as registerCp } from './commands/container-cp.js';
import { register as registerImage } from './commands/image.js';
import { register as registerImageRegistry } from './commands/image-registry.js';
import { register as registerSystem } from './commands/system.js';
import { register as registerNetwork } from './commands/network.js';
import { register as registerBuild } from './commands/image-build.js';
import { register as registerVm } from './commands/vm.js';
import { register as registerVolume } from './commands/volume.js';
import { register as registerApp } from './commands/app.js';
import { register as registerService } from './commands/service.js';
import { register as registerNode } from './commands/node.js';

/** docker's exit code for a command line it cannot take (an unknown flag, a missing argument). */
export const USAGE_EXIT = 125;

export function buildProgram(): Command {
  const program = new Command('hull')
    .description('Containers and virtual machines side by side')
    .option('-H, --host <url>', 'daemon socket (env HULL_HOST, default unix:///run/hull/hull.sock)')
    .enablePositionalOptions()
    // Usage errors are printed by main(), one line and a hint, as docker does; subcommands inherit both.
    .configureOutput({ outputError: () => undefined })
    .exitOverride();
  for (const reg of [registerDaemon, registerRun, registerLifecycle, registerList, registerIo, registerCp, registerStats, registerImage, registerImageRegistry, registerBuild, registerNetwork, registerVolume, registerVm, registerApp, registerService, registerNode, registerSystem]) reg(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  guardStdio();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof ExitSignal) return;
    if (e instanceof CommanderError) return usageError(program, argv.slice(2), e);
    // The reader of our output went away (a pipeline's `head`): end quietly, as SIGPIPE would.
    if (isEpipe(e)) process.exit(EXIT_SIGPIPE);
    const msg = e instanceof ApiError || e instanceof Error ? e.message : String(e);
    process.stderr.write(`Error: ${msg}\n`);
    // Exit once stderr is out: an open request (a wait, a stream) must not keep a failed command alive.
    const code = exitCodeOf(e);
    process.exitCode = code;
    void flushStdio().then(() => process.exit(code));
  }
}

function exitCodeOf(e: unknown): number {
  if (e instanceof FormatError) return e.exitCode;
  return e instanceof ApiError && e.code === 'command_not_found' ? 127 : 1;
}

/** `Error: unknown option '--foo'` and `See 'hull ps --help'.`, exit 125; help and version exit 0 as they are. */
function usageError(program: Command, args: string[], e: CommanderError): void {
  if (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') {
    process.exitCode = e.exitCode;
    return;
  }
  const path = commandPath(program, args);
  process.stderr.write(`Error: ${e.message.replace(/^error: /, '')}\nSee '${['hull', ...path].join(' ')} --help'.\n`);
  process.exitCode = USAGE_EXIT;
}

/** The subcommand words of a command line (`network ls` of `-H x network ls --bad`). */
export function commandPath(program: Command, args: string[]): string[] {
  const path: string[] = [];
  let cmd = program;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') break;
    if (a.startsWith('-')) {
      const opt = cmd.options.find((o) => o.short === a || o.long === a);
      if (opt && (opt.required || opt.optional)) i++;
      continue;
    }
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!sub) break;
    path.push(sub.name());
    cmd = sub;
  }
  return path;
}
