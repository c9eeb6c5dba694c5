import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { HullError } from '../../core/errors.js';
import { runtimeStartError, type OciRuntime } from './runtime-cli.js';

/**
 * conmon supervises one container (or one exec session): it runs the OCI
 * runtime's `create` (or `exec`), holds the container's stdio, writes the log
 * file, serves the attach socket (<bundle>/attach, SOCK_SEQPACKET) and the
 * ctl/winsz fifos, and writes the exit code to <exitDir>/<cuuid>. It daemonizes,
 * so containers outlive the Hull daemon.
 *
 * Pipes (file descriptors passed through the environment, as podman does):
 *  _OCI_SYNCPIPE   conmon → us: {"data": pid} once the runtime created it,
 *                  {"data": -1, "message": "..."} when it failed; for exec,
 *                  a second message carries the exit code.
 *  _OCI_STARTPIPE  us → conmon: it waits for a write before doing anything,
 *                  and, with --exec-attach, a second time before running.
 *  _OCI_ATTACHPIPE conmon → us: the attach socket is ready (exec-attach).
 */
export interface ConmonSpec {
  conmonPath: string;
  runtime: OciRuntime;
  containerId: string;
  cuuid: string; // container id, or the exec session id
  name: string;
  bundle: string;
  pidFile: string;
  conmonPidFile: string;
  exitDir: string;
  logPath: string; // k8s-file log
  /** conmon replaces the log with a new empty file when a record would take it past this (files.ts keeps the old one). */
  logSizeMax: number;
  terminal: boolean;
  stdin: boolean;
  exec?: { processSpec: string };
}

export interface ConmonHandle {
  /** Exec only: resolves when the attach socket is ready; call go() after attaching. */
  ready: Promise<void>;
  /** Resolves with the container (or exec) process pid. */
  pid: Promise<number>;
  /** Exec only: resolves with the exit code once the exec'd process ended. */
  exitCode: Promise<number>;
  /** Exec only: let conmon run the process (after attaching). */
  go(): void;
}

export function conmonArgs(s: ConmonSpec): string[] {
  const a = [
    '--api-version', '1',
    '-c', s.containerId,
    '-u', s.cuuid,
    '-n', s.name,
    '-r', s.runtime.execPath,
    // conmon runs: execPath, the runtime args in order, then create/exec and theirs.
    ...s.runtime.execArgs.flatMap((x) => ['--runtime-arg', x]),
    '--runtime-arg', '--root', '--runtime-arg', s.runtime.stateRoot,
    '-b', s.bundle,
    '-p', s.pidFile,
    '-P', s.conmonPidFile,
    '--exit-dir', s.exitDir,
    '-0', s.bundle, // persist dir: conmon writes its `oom` marker here
    '-l', `k8s-file:${s.logPath}`,
    '--log-size-max', String(s.logSizeMax),
    '--log-level', 'error',
    '--full-attach',
  ];
  // As podman: -i only without a terminal. With -i conmon closes the container's stdin when an
  // attach connection ends; a terminal's input has no end (the pty is stdin whatever the flag),
  // so leaving one (the detach keys, a dropped client) keeps it for the next attach.
  if (s.terminal) a.push('-t');
  else if (s.stdin) a.push('-i');
  if (s.exec) a.push('--exec', '--exec-process-spec', s.exec.processSpec, '--exec-attach');
  return a;
}

export function spawnConmon(s: ConmonSpec): ConmonHandle {
  const exec = !!s.exec;
  const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'];
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' };
  if (exec) {
    stdio.push('pipe');
    env._OCI_ATTACHPIPE = '5';
  }
  // cwd is the bundle: conmon also drops its `oom` marker in its working directory.
  const child = spawn(s.conmonPath, conmonArgs(s), { stdio, env, detached: true, cwd: s.bundle });
  const sync = child.stdio[3] as Readable;
  const start = child.stdio[4] as Writable;
  const attach = exec ? ((child.stdio as unknown as Readable[])[5] as Readable) : undefined;
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  child.on('error', () => undefined);
  child.unref();

  const messages = readMessages(sync);
  const failWith = (what: string) => new HullError('internal', `conmon ${what}${stderr ? `: ${stderr.trim()}` : ''}`);

  const ready = (async () => {
    if (!exec) return;
    const r = await readMessages(attach!).next();
    if (r.done) {
      const m = await messages.next();
      if (!m.done && m.value.data < 0) throw runtimeStartError(m.value.message ?? 'unknown runtime error');
      throw failWith('closed the attach pipe');
    }
  })();
  const pid = (async () => {
    await ready;
    const m = await messages.next();
    if (m.done) throw failWith('exited without reporting the container pid');
    if (m.value.data < 0) throw runtimeStartError(m.value.message ?? 'unknown runtime error');
    return m.value.data;
  })();

  const exitCode = (async () => {
    if (!exec) return -1;
    await pid;
    const m = await messages.next();
    if (m.done) throw failWith('exited without reporting the exit code');
    if (m.value.data < 0 && m.value.message) throw runtimeStartError(m.value.message);
    return m.value.data;
  })();
  ready.catch(() => undefined);
  pid.catch(() => undefined);
  exitCode.catch(() => undefined);

  // First write: start (conmon blocks on it before doing anything).
  start.write('0');
  return {
    ready,
    pid,
    exitCode,
    go: () => {
      start.write('0');
      start.end();
    },
  };
}

interface SyncMessage {
  data: number;
  message?: string;
}

/** conmon writes one JSON object per message on its pipes; read them in order. */
async function* readMessages(stream: Readable): AsyncGenerator<SyncMessage> {
  let buf = '';
  for await (const chunk of stream) {
    buf += chunk.toString();
    for (;;) {
      const end = buf.indexOf('}');
      if (end < 0) break;
      const text = buf.slice(buf.indexOf('{'), end + 1);
      buf = buf.slice(end + 1);
      yield JSON.parse(text) as SyncMessage;
    }
  }
}
