import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { writeHttpError } from '../streams.js';
import { checkApiVersion, stripVersion } from './api-version.js';
import { attachContainer } from './attach.js';
import { dockerErrorResponse } from './errors.js';
import { startExec } from './exec-start.js';
import { readUpgradeBody, runStream, upgradeAnswer } from './hijack.js';
import type { RawQuery } from './query.js';
import type { DockerCtx } from './server.js';
import { trace } from './trace.js';

const ATTACH = /^\/containers\/([^/]+)\/attach$/;
const EXEC_START = /^\/exec\/([^/]+)\/start$/;

/**
 * Requests with `Upgrade: tcp` (fastify does not route them): attach and
 * exec start, the two docker's clients upgrade. Bytes the client sent after
 * the request's head (its body, or early input) are put back on the socket.
 */
export async function dockerUpgrade(ctx: DockerCtx, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  if (head.length) socket.unshift(head);
  const url = new URL(stripVersion(req), 'http://docker');
  const fail = (status: number, message: string) => writeHttpError(socket, status, { message });
  try {
    checkApiVersion(req);
  } catch (e) {
    return fail(400, (e as Error).message);
  }
  const q = Object.fromEntries([...new Set(url.searchParams.keys())].map((k) => [k, url.searchParams.get(k) ?? ''])) as RawQuery;
  const ref = (m: RegExpExecArray) => {
    try {
      return decodeURIComponent(m[1]);
    } catch {
      return m[1];
    }
  };
  const attach = ATTACH.exec(url.pathname);
  const exec = EXEC_START.exec(url.pathname);
  if (req.method !== 'POST' || (!attach && !exec)) {
    trace(req, undefined, 404);
    return fail(404, 'page not found');
  }
  trace(req, attach ? '/containers/{id}/attach' : '/exec/{id}/start', 101);
  const answer = upgradeAnswer(req, socket);
  // A body (dockerode sends its options as one) is read off the socket: for attach it is not input, as dockerd drops it too.
  const body = await readUpgradeBody(req, socket, { json: !attach }).catch((e: unknown) => e as Error);
  if (attach) return runStream(socket, answer, (a) => attachContainer(ctx, ref(attach), q, socket, a), dockerErrorResponse);
  if (body instanceof Error) return fail(400, body.message);
  return runStream(socket, answer, (a) => startExec(ctx, ref(exec!), body, socket, a), dockerErrorResponse);
}
