import { Command, CommanderError } from 'commander';
import { ApiError } from './client.js';
import { ExitSignal } from './context.js';
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

export function buildProgram(): Command {
  const program = new Command('hull')
    .description('Containers and virtual machines side by side')
    .option('-H, --host <url>', 'daemon socket (env HULL_HOST, default unix:///run/hull/hull.sock)')
    .enablePositionalOptions()
    .showHelpAfterError();
  for (const reg of [registerDaemon, registerRun, registerLifecycle, registerList, registerIo, registerCp, registerStats, registerImage, registerImageRegistry, registerBuild, registerNetwork, registerVm, registerSystem]) reg(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram().exitOverride();
  guardStdio();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof ExitSignal) return;
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    // The reader of our output went away (a pipeline's `head`): end quietly, as SIGPIPE would.
    if (isEpipe(e)) process.exit(EXIT_SIGPIPE);
    const msg = e instanceof ApiError || e instanceof Error ? e.message : String(e);
    process.stderr.write(`Error: ${msg}\n`);
    // Exit once stderr is out: an open request (a wait, a stream) must not keep a failed command alive.
    const code = e instanceof ApiError && e.code === 'command_not_found' ? 127 : 1;
    process.exitCode = code;
    void flushStdio().then(() => process.exit(code));
  }
}
