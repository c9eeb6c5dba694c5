import type { IncomingMessage } from 'node:http';
import { Duplex } from 'node:stream';
import { DetachScanner, parseDetachKeys } from '../../core/detach-keys.js';
import type { StdioStream } from '../../runtime/driver.js';
import { acceptUpgrade, writeHttpError } from '../streams.js';
import { DockerError } from './errors.js';

/**
 * Docker's streams ride on the request's own connection: with
 * `Upgrade: tcp` it is answered 101 (the CLI, docker-py), without it 200,
 * and in both cases the connection then carries the stream, not HTTP
 * (dockerode without `hijack`). `Answer` writes whichever head fits.
 */
export type Answer = (contentType: string) => void;

export const upgradeAnswer = (req: IncomingMessage, socket: Duplex): Answer => (ct) => acceptUpgrade(req, socket, ct);
export const plainAnswer = (socket: Duplex): Answer => (ct) => {
  if (socket.writable) socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${ct}\r\nApi-Version: 1.50\r\n\r\n`);
};

export const streamType = (tty: boolean) => (tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');

/** Only the streams a client asked for (`stdout=1&stderr=0`). */
export function selectStreams(stdio: StdioStream, want: { stdout: boolean; stderr: boolean }): StdioStream {
  if (want.stdout && want.stderr) return stdio;
  return {
    ...stdio,
    onData: (cb) => stdio.onData((s, d) => (s === 'stdout' ? want.stdout : want.stderr) && cb(s, d)),
    write: (d) => stdio.write(d),
    close: () => stdio.close(),
    closeStdin: () => stdio.closeStdin(),
    onClose: (cb) => stdio.onClose(cb),
    ...(stdio.onDrain ? { onDrain: (cb: () => void) => stdio.onDrain!(cb) } : {}),
  };
}

/**
 * The client's connection with docker's escape proxy on its input: the
 * detach keys (ctrl-p,ctrl-q unless the client names others) end the
 * stream, not the container, and never reach it. Output passes through.
 */
export function detachable(socket: Duplex, spec: string | undefined, onDetach: () => void): Duplex {
  let keys: Buffer;
  try {
    keys = parseDetachKeys(spec);
  } catch (e) {
    throw new DockerError(400, (e as Error).message);
  }
  const scan = new DetachScanner(keys);
  const d = new Duplex({
    read: () => void socket.resume(),
    write: (chunk, _enc, cb) => (socket.writable ? socket.write(chunk, cb) : cb()),
    final: (cb) => {
      socket.end();
      cb();
    },
    destroy: (err, cb) => {
      socket.destroy();
      cb(err);
    },
  });
  socket.on('data', (b: Buffer) => {
    const r = scan.push(b);
    if (r.data.length && !d.push(r.data)) socket.pause();
    if (r.detach) onDetach();
  });
  socket.on('end', () => d.push(null));
  socket.on('close', () => d.destroy());
  socket.on('error', () => d.destroy());
  return d;
}

/**
 * The JSON body of an upgraded request (exec start's `{"Detach","Tty"}`):
 * Node hands the socket over right after the headers, so the body is read
 * from it here, `Content-Length` bytes and no more (what follows is stdin).
 */
export function readUpgradeBody(req: IncomingMessage, socket: Duplex, o: { json: boolean } = { json: true }, max = 64 * 1024): Promise<unknown> {
  const len = Number(req.headers['content-length'] ?? 0);
  if (!Number.isInteger(len) || len < 0 || len > max) return Promise.reject(new DockerError(400, 'invalid Content-Length for a stream request'));
  if (len === 0) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.length < len) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('end', onClose);
      socket.pause();
      if (got.length > len) socket.unshift(got.subarray(len));
      if (!o.json) return resolve(undefined);
      try {
        resolve(JSON.parse(got.subarray(0, len).toString()));
      } catch {
        reject(new DockerError(400, 'invalid JSON body'));
      }
    };
    const onClose = () => reject(new DockerError(400, 'the client went away before its request body arrived'));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('end', onClose);
  });
}

/**
 * Run a stream handler on a connection taken over from HTTP: a failure
 * before the stream's head went out is an HTTP error with docker's body, one
 * after it closes the connection (the stream's bytes cannot carry it).
 */
export async function runStream(socket: Duplex, answer: Answer, fn: (answer: Answer) => Promise<void>, onError: (e: unknown) => { status: number; message: string }): Promise<void> {
  let answered = false;
  const once: Answer = (ct) => {
    answered = true;
    answer(ct);
  };
  try {
    await fn(once);
  } catch (e) {
    const { status, message } = onError(e);
    if (!answered && !socket.destroyed) writeHttpError(socket, status, { message });
    else socket.destroy();
  }
}
