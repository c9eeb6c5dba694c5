import { z } from 'zod';
import { isHullError, wrongState } from '../../core/errors.js';
import type { StdioStream } from '../../runtime/driver.js';
import { q } from '../parse.js';
import type { ApiDeps } from '../server.js';
import { acceptUpgrade, muxFrame, pipeStdio } from '../streams.js';
import type { UpgradeRouter } from '../upgrade.js';
import type { ExecSessions } from './exec-sessions.js';

const AttachQuery = z.object({ stdin: q.bool() });

/**
 * The streaming endpoints, as HTTP upgrades (docker's protocol):
 *   POST /v1/containers/{ref}/attach?stdin=1   attach to the container's stdio
 *   POST /v1/exec/{id}/start                   run an exec session and relay its stdio
 */
export function containerUpgrades(router: UpgradeRouter, { engine, log }: ApiDeps, sessions: ExecSessions): void {
  router.add('POST', '/v1/containers/:ref/attach', { query: AttachQuery }, async (req, socket, params, query) => {
    const { inst, stdio } = await engine.attach(params.ref);
    const tty = inst.config.tty;
    acceptUpgrade(req, socket, tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    await pipeStdio(stdio, socket, tty, query.stdin && inst.config.openStdin);
    socket.end();
  });

  router.add('POST', '/v1/exec/:id/start', {}, async (req, socket, params) => {
    const rec = sessions.start(params.id);
    const session = await engine.exec(rec.containerId, rec.opts).catch((e: unknown) => {
      sessions.expire(rec.id);
      throw e;
    });
    rec.session = session;
    acceptUpgrade(req, socket, rec.opts.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    const piping = pipeStdio(session.stdio, socket, rec.opts.tty, rec.opts.stdin);
    rec.running = true;
    const inst = await engine.get(rec.containerId).catch(() => undefined);
    if (inst) engine.execEvent(inst, 'start', rec.id, { cmd: rec.opts.cmd });
    try {
      await session.start();
      rec.exitCode = await session.exitCode;
    } catch (e) {
      log.warn({ err: String(e) }, 'exec failed');
      const msg = String((e as Error).message ?? e);
      const code = isHullError(e) ? e.code : 'internal';
      rec.exitCode = code === 'command_not_found' ? 127 : code === 'command_not_executable' ? 126 : 125;
      if (socket.writable) socket.write(rec.opts.tty ? Buffer.from(`${msg}\r\n`) : muxFrame(2, Buffer.from(`${msg}\n`)));
    } finally {
      rec.running = false;
      sessions.expire(rec.id);
      if (inst) engine.execEvent(inst, 'die', rec.id, { exitCode: rec.exitCode ?? undefined });
    }
    await outputSettled(piping, session.stdio);
    socket.end();
  });
}

/**
 * After an exec's exit: the output still in flight comes before the end of
 * the stream. conmon closes the attach socket once it has passed on the
 * last byte; a stream that falls silent for `idleMs` without closing must
 * not hold the client.
 */
export function outputSettled(piping: Promise<void>, stdio: StdioStream, idleMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    let settled = false;
    let t = setTimeout(done, idleMs);
    stdio.onData(() => {
      if (settled) return;
      clearTimeout(t);
      t = setTimeout(done, idleMs);
    });
    void piping.then(done);
    function done() {
      settled = true;
      clearTimeout(t);
      resolve();
    }
  });
}
