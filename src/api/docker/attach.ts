import type { Duplex } from 'node:stream';
import { isHullError } from '../../core/errors.js';
import { readRecords } from '../../runtime/oci/logs.js';
import { recordEncoder } from '../routes/log-stream.js';
import { pipeStdio } from '../streams.js';
import { detachable, selectStreams, streamType, type Answer } from './hijack.js';
import { container } from './lookup.js';
import { qBool, qStr, type RawQuery } from './query.js';
import type { DockerCtx } from './server.js';

/**
 * `POST /containers/{id}/attach`: the container's output (and, with
 * stdin=1 on a container made with OpenStdin, its input) over the request's
 * own connection. docker run's order works: attach to a created container
 * (set up under conmon, not yet running), then start; the stream ends when
 * the container does. `logs=1` sends what the log holds first; `stream=0`
 * only that.
 */
export async function attachContainer(ctx: DockerCtx, ref: string, q: RawQuery, socket: Duplex, answer: Answer): Promise<void> {
  const found = await container(ctx.engine, ref);
  const want = { stdout: qBool(q, 'stdout'), stderr: qBool(q, 'stderr') };
  const tty = found.config.tty;
  if (!qBool(q, 'stream')) {
    answer(streamType(tty));
    if (qBool(q, 'logs')) await replayLog(ctx, found, want, tty, socket);
    socket.end();
    return;
  }
  const attached = await ctx.engine.attach(found.id).catch((e: unknown) => {
    // Hull sets a created container's program up at attach: one that cannot run fails here, where
    // docker fails at start. The stream ends at once; the start that follows says why (127, 126).
    if (isHullError(e, 'command_not_found') || isHullError(e, 'command_not_executable')) return undefined;
    throw e;
  });
  answer(streamType(tty));
  if (!attached) return void socket.end();
  const { inst, stdio } = attached;
  const size = ctx.consoleSizes.get(inst.id);
  if (size) {
    ctx.consoleSizes.delete(inst.id);
    await ctx.engine.resize(inst.id, size[0], size[1]).catch(() => undefined);
  }
  if (qBool(q, 'logs')) await replayLog(ctx, inst, want, tty, socket);
  const withStdin = qBool(q, 'stdin') && inst.config.openStdin;
  const conn = withStdin ? detachable(socket, qStr(q, 'detachKeys'), () => stdio.close()) : socket;
  await pipeStdio(selectStreams(stdio, want), conn, tty, withStdin);
  socket.end();
}

async function replayLog(ctx: DockerCtx, inst: Parameters<DockerCtx['engine']['logPath']>[0], want: { stdout: boolean; stderr: boolean }, tty: boolean, socket: Duplex): Promise<void> {
  const encode = recordEncoder({ tty, timestamps: false, ...want });
  for await (const rs of readRecords(ctx.engine.logPath(inst))) {
    const b = encode(rs);
    if (b && socket.writable) socket.write(b);
  }
}
