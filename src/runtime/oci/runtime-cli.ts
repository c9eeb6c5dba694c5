import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError } from '../../core/errors.js';
import { run } from '../../sys/run.js';

/**
 * A thin, stateless wrapper over an OCI runtime's command line (crun, runc).
 * State lives in the store; this only turns calls into argv and stderr into
 * typed errors. `execPath` and `execArgs` are what conmon runs in the runtime's
 * place (the binary; on a hybrid-cgroup host crun through `nsenter --mount=<ns>
 * crun`, see hybrid-ns.ts); `path` is used for the calls that need neither.
 */
export interface RuntimeState {
  id: string;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  pid: number;
}

export class OciRuntime {
  constructor(
    readonly name: string,
    readonly path: string,
    readonly execPath: string,
    readonly stateRoot: string,
    readonly execArgs: string[] = [],
  ) {}

  private argv(...args: string[]): string[] {
    return [this.path, '--root', this.stateRoot, ...args];
  }

  /** Does the runtime hold state for this id? A file check, no process spawned. */
  async knows(id: string): Promise<boolean> {
    return access(join(this.stateRoot, id)).then(
      () => true,
      () => false,
    );
  }

  /** The runtime's view of a container, or undefined if it does not know it. */
  async state(id: string): Promise<RuntimeState | undefined> {
    if (!(await this.knows(id))) return undefined;
    const r = await run(this.argv('state', id), { allowFailure: true, timeoutMs: 10_000 });
    if (r.code !== 0) {
      if (/does not exist|not found|No such file/i.test(r.stderr)) return undefined;
      throw new HullError('internal', `${this.name} state ${id}: ${r.stderr.trim()}`);
    }
    return JSON.parse(r.stdout) as RuntimeState;
  }

  async start(id: string): Promise<void> {
    await run(this.argv('start', id), { timeoutMs: 30_000 });
  }

  async kill(id: string, signal: string, all = false): Promise<void> {
    const r = await run(this.argv('kill', ...(all ? ['--all'] : []), id, signal), { allowFailure: true, timeoutMs: 10_000 });
    // A container that already stopped cannot be signalled: not an error for stop/kill.
    if (r.code !== 0 && !/not running|container not running|process already finished|No such process/i.test(r.stderr)) {
      throw new HullError('internal', `${this.name} kill ${id}: ${r.stderr.trim()}`);
    }
  }

  async delete(id: string, force = false): Promise<void> {
    if (!(await this.knows(id))) return;
    const r = await run(this.argv('delete', ...(force ? ['--force'] : []), id), { allowFailure: true, timeoutMs: 30_000 });
    if (r.code !== 0 && !/does not exist|not found|No such file/i.test(r.stderr)) {
      throw new HullError('internal', `${this.name} delete ${id}: ${r.stderr.trim()}`);
    }
  }

  /**
   * Change a live container's limits (its cgroup): memory (swap kept equal,
   * as at create), CPU quota over a 100 ms period, pids (-1 unlimited).
   */
  async update(id: string, r: { memoryBytes?: number; cpus?: number; pidsLimit?: number }): Promise<void> {
    const args: string[] = [];
    if (r.memoryBytes !== undefined) args.push(`--memory=${r.memoryBytes}`, `--memory-swap=${r.memoryBytes}`);
    if (r.cpus !== undefined) args.push('--cpu-period=100000', `--cpu-quota=${Math.round(r.cpus * 100_000)}`);
    if (r.pidsLimit !== undefined) args.push(`--pids-limit=${r.pidsLimit < 0 ? 'max' : r.pidsLimit}`);
    if (args.length) await run(this.argv('update', ...args, id), { timeoutMs: 10_000, errorCode: 'wrong_state' });
  }

  async pause(id: string): Promise<void> {
    await run(this.argv('pause', id), { timeoutMs: 10_000, errorCode: 'wrong_state' });
  }

  async resume(id: string): Promise<void> {
    await run(this.argv('resume', id), { timeoutMs: 10_000, errorCode: 'wrong_state' });
  }
}

/** Turn the runtime's start failure message into a typed error, as docker does (127, 126). */
export function runtimeStartError(message: string): HullError {
  const msg = message.trim();
  if (/not found in \$PATH|no such file or directory/i.test(msg) && /exec|executable/i.test(msg)) {
    return new HullError('command_not_found', msg);
  }
  if (/permission denied/i.test(msg) && /exec|executable/i.test(msg)) {
    return new HullError('command_not_executable', msg);
  }
  if (/memory|oom|cannot allocate/i.test(msg)) return new HullError('resource', msg);
  return new HullError('internal', msg);
}
