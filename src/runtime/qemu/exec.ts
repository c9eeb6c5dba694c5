import { newId } from '../../core/ids.js';
import { HullError } from '../../core/errors.js';
import type { ExecOptions, ExecSession, Process, StdioStream } from '../driver.js';
import type { AgentClient } from './agent.js';

/**
 * `exec` in a VM, through the guest agent. The agent runs the command to its
 * end and answers with all of its output, so the session's stdout and stderr
 * arrive in one piece when it exits; stdin, when asked for, is collected until
 * closeStdin() and sent with the request. No terminal (-t): the agent has none.
 */
export function agentExec(agent: AgentClient, opts: ExecOptions): ExecSession {
  if (opts.tty) throw new HullError('invalid', 'a VM exec has no terminal: run it without -t');
  if (!opts.cmd.length) throw new HullError('invalid', 'exec: no command');
  const dataCbs: Array<(s: 'stdout' | 'stderr', b: Buffer) => void> = [];
  const closeCbs: Array<() => void> = [];
  const stdin: Buffer[] = [];
  let started = false;
  let stdinClosed = !opts.stdin;
  let send: () => void = () => undefined;
  const exitCode = new Promise<number>((resolve, reject) => {
    send = () => {
      agent
        .exec(opts.cmd, { env: opts.env, cwd: opts.workingDir || undefined, user: opts.user || undefined, stdin: Buffer.concat(stdin) })
        .then((r) => {
          if (r.stdout.length) dataCbs.forEach((cb) => cb('stdout', r.stdout));
          if (r.stderr.length) dataCbs.forEach((cb) => cb('stderr', r.stderr));
          closeCbs.forEach((cb) => cb());
          resolve(r.exitCode);
        })
        .catch((e: unknown) => {
          closeCbs.forEach((cb) => cb());
          reject(e);
        });
    };
  });
  exitCode.catch(() => undefined);
  const go = () => started && stdinClosed && send();
  const stdio: StdioStream = {
    onData: (cb) => dataCbs.push(cb),
    onClose: (cb) => closeCbs.push(cb),
    write: (b) => void stdin.push(b),
    closeStdin: () => {
      if (stdinClosed) return;
      stdinClosed = true;
      go();
    },
    close: () => undefined,
  };
  return {
    id: newId(),
    stdio,
    start: async () => {
      started = true;
      go();
      return 0; // the guest's pid is the guest's business
    },
    exitCode,
    resize: async () => undefined,
  };
}

/** `top`: the guest's processes, from busybox ps inside it. */
export async function agentTop(agent: AgentClient): Promise<Process[]> {
  // busybox ps has no cpu-time column; the agent's own ps is left out.
  const r = await agent.exec(['ps', '-o', 'pid,user,args'], { timeoutMs: 10_000 });
  if (r.exitCode !== 0) throw new HullError('internal', `ps in the guest failed: ${r.stderr.toString().trim()}`);
  return r.stdout
    .toString()
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() && !/ ps -o pid,user,args$/.test(l))
    .map((l) => {
      const [pid, user, ...args] = l.trim().split(/\s+/);
      return { pid: Number(pid), user, cpuTime: '', command: args.join(' ') };
    });
}
