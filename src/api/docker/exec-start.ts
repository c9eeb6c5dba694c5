import type { Duplex } from 'node:stream';
import { z } from 'zod';
import { isHullError } from '../../core/errors.js';
import type { ExecRecord } from '../routes/exec-sessions.js';
import { outputSettled } from '../routes/container-streams.js';
import { muxFrame, pipeStdio } from '../streams.js';
import { DockerError, orNoSuch } from './errors.js';
import { detachable, selectStreams, streamType, type Answer } from './hijack.js';
import { dockerBody, nullable } from './query.js';
import type { DockerCtx } from './server.js';
/** docker's [height, width] as the driver's size; none for 0×0 (a client that does not know it). */
export const consoleSize = (s: readonly number[] | null | undefined) => (s && s[0] && s[1] ? { consoleSize: { rows: s[0], cols: s[1] } } : {});

/** What docker's exec create asks that Hull's exec options do not hold. */
export interface ExecExtras {
  attachStdout: boolean;
  attachStderr: boolean;
  detachKeys?: string;
  pid: number;
}
export const execExtras = new WeakMap<ExecRecord, ExecExtras>();

const StartBody = z.object({ Detach: nullable(z.boolean()), Tty: nullable(z.boolean()), ConsoleSize: nullable(z.array(z.number().int().min(0).max(65535)).length(2)) }).loose();

/**
 * `POST /exec/{id}/start`: run the session once. Attached, its stdio goes
 * over the connection (101 or hijacked 200) until it exits; detached
 * (`docker exec -d`), the answer is an empty 200 and it runs on its own.
 */
export async function startExec(ctx: DockerCtx, id: string, rawBody: unknown, socket: Duplex, answer: Answer): Promise<void> {
  const b = dockerBody(StartBody, rawBody, 'exec start request');
  const rec = await orNoSuch('exec instance', id, async () => ctx.execs.get(id));
  if (rec.started) throw new DockerError(409, `exec session ${id} has already been started`);
  ctx.execs.start(id);
  const extras = execExtras.get(rec) ?? { attachStdout: true, attachStderr: true, pid: 0 };
  // The start's size (docker 23 and later send it) wins over the create's: the terminal's now.
  const session = await ctx.engine.exec(rec.containerId, { ...rec.opts, ...consoleSize(b.ConsoleSize) }).catch((e: unknown) => {
    ctx.execs.expire(rec.id);
    throw e;
  });
  rec.session = session;
  const tty = rec.opts.tty;
  if (b.Detach) {
    answer('application/json');
    socket.end();
    session.stdio.onData(() => undefined);
  } else answer(streamType(tty));
  const conn = !b.Detach && rec.opts.stdin ? detachable(socket, extras.detachKeys, () => session.stdio.close()) : socket;
  const piping = b.Detach ? Promise.resolve() : pipeStdio(selectStreams(session.stdio, { stdout: extras.attachStdout, stderr: extras.attachStderr }), conn, tty, rec.opts.stdin);
  rec.running = true;
  const inst = await ctx.engine.get(rec.containerId);
  ctx.engine.execEvent(inst, 'start', rec.id, { cmd: rec.opts.cmd });
  try {
    extras.pid = await session.start();
    // Again once started: crun 1.8 applies the start's size concurrently with the command (runc before it).
    if (b.ConsoleSize && tty) await session.resize(b.ConsoleSize[0], b.ConsoleSize[1]).catch(() => undefined);
    rec.exitCode = await session.exitCode;
  } catch (e) {
    const code = isHullError(e) ? e.code : 'internal';
    rec.exitCode = code === 'command_not_found' ? 127 : code === 'command_not_executable' ? 126 : 126;
    const msg = `OCI runtime exec failed: ${(e as Error).message}`;
    if (!b.Detach && socket.writable) socket.write(tty ? Buffer.from(`${msg}\r\n`) : muxFrame(2, Buffer.from(`${msg}\n`)));
  } finally {
    rec.running = false;
    ctx.execs.expire(rec.id);
  }
  ctx.engine.execEvent(inst, 'die', rec.id, { exitCode: rec.exitCode ?? undefined });
  if (!b.Detach) await outputSettled(piping, session.stdio);
  socket.end();
}
