import type { FastifyReply } from 'fastify';
import { PassThrough } from 'node:stream';
import { toHullError } from '../../../core/errors.js';
import type { BuildEvent } from '../../../image/build/builder.js';
import type { ProgressEvent } from '../../../image/registry/progress.js';
import { DockerError } from '../errors.js';

/**
 * Pull, push, build and load answer with docker's JSON message stream: one
 * JSON object per line, which the client draws itself (`status` with `id`
 * and `progressDetail` becomes a layer's bar; `stream` is printed as it is;
 * `aux` carries a result; `error`/`errorDetail` ends it as a failure). The
 * status is 200 once the stream has started, so a later failure is the
 * error message, as docker does.
 */
export type JsonMessage = Record<string, unknown>;

export function jsonMessageStream(reply: FastifyReply, run: (send: (m: JsonMessage) => void, signal: AbortSignal) => Promise<void>) {
  const out = new PassThrough();
  const ctl = new AbortController();
  const send = (m: JsonMessage) => {
    if (!out.writableEnded) out.write(`${JSON.stringify(m)}\r\n`);
  };
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ctl.abort();
  });
  run(send, ctl.signal)
    .catch((e: unknown) => {
      const message = e instanceof DockerError ? e.message : toHullError(e).message;
      send({ errorDetail: { message }, error: message });
    })
    .finally(() => out.end());
  reply.header('Content-Type', 'application/json');
  return reply.send(out);
}

/** A pull's or push's progress event as docker's message. */
export function progressMessage(e: ProgressEvent): JsonMessage {
  if (e.type === 'status') return { status: e.message };
  const detail = e.current !== undefined && e.total !== undefined ? { current: e.current, total: e.total } : {};
  return { status: e.status, progressDetail: detail, id: e.id };
}

/** A build's event as docker's classic builder prints it. */
export function buildMessage(e: BuildEvent): JsonMessage {
  return e.type === 'status' ? { stream: `${e.message}\n` } : { stream: e.data };
}
