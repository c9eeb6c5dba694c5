import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { formatSize } from '../core/units.js';
import type { StdioStream } from '../runtime/driver.js';

/**
 * Streams over the API socket, framed as Docker's are so its clients work:
 * without a terminal, every chunk is [stream, 0, 0, 0, size(uint32 BE)] + data
 * with stream 1 = stdout, 2 = stderr; with a terminal, raw bytes.
 */
export function muxFrame(stream: 1 | 2, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(data.length, 4);
  return Buffer.concat([h, data]);
}

/** Parse mux frames from a byte stream (the client side). */
export class MuxDecoder {
  private buf = Buffer.alloc(0);
  constructor(private onFrame: (stream: number, data: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) return;
      this.onFrame(this.buf[0], this.buf.subarray(8, 8 + size));
      this.buf = this.buf.subarray(8 + size);
    }
  }
}

/** Sockets answered with 101: from then on they carry a stream, never an HTTP error. */
const upgraded = new WeakSet<Duplex>();
export const isUpgraded = (socket: Duplex): boolean => upgraded.has(socket);

/** Answer an HTTP upgrade with 101 and hand back the raw socket. */
export function acceptUpgrade(req: IncomingMessage, socket: Duplex, contentType: string): void {
  // The protocol is echoed back: only a plain token, whatever the client sent.
  const asked = String(req.headers.upgrade ?? '');
  const proto = /^[\w.\/-]{1,64}$/.test(asked) ? asked : 'tcp';
  upgraded.add(socket);
  if (!socket.writable) return;
  socket.write(
    `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: ${proto}\r\n\r\n`,
  );
}

/**
 * Relay a container's stdio over an upgraded socket until either side ends.
 * Input keeps the instance's pace: while the stdio's queue is full the
 * socket is paused (so the client's writes wait too), and the end of input
 * is passed on only after every byte before it.
 */
export function pipeStdio(stdio: StdioStream, socket: Duplex, tty: boolean, withStdin: boolean, maxUnsent = MAX_UNSENT): Promise<void> {
  return new Promise((resolve) => {
    stdio.onData((stream, data) => {
      if (!socket.writable) return;
      if (socket.writableLength > maxUnsent) return cutOff(stdio, socket, tty, maxUnsent);
      socket.write(tty ? data : muxFrame(stream === 'stderr' ? 2 : 1, data));
    });
    if (withStdin) {
      stdio.onDrain?.(() => socket.resume());
      socket.on('data', (b: Buffer) => {
        if (stdio.write(b) === false) socket.pause();
      });
      socket.on('end', () => stdio.closeStdin());
    }
    socket.on('error', () => stdio.close());
    socket.on('close', () => stdio.close());
    stdio.onClose(() => {
      resolve();
    });
    // A client gone before the stream began will send no 'close' any more.
    if (socket.destroyed) stdio.close();
  });
}

/**
 * Output is read from the instance as fast as it comes (conmon's attach
 * socket cannot be paused from here): a client this far behind is cut off,
 * with a message at the end of what it did get, rather than held in memory.
 */
const MAX_UNSENT = 256 * 1024 * 1024;

function cutOff(stdio: StdioStream, socket: Duplex, tty: boolean, maxUnsent: number): void {
  const msg = `hull: output cut off: this client fell more than ${formatSize(maxUnsent)} behind`;
  socket.end(tty ? Buffer.from(`\r\n${msg}\r\n`) : muxFrame(2, Buffer.from(`${msg}\n`)));
  stdio.close();
}

/** Answer a request that was not upgraded with an error, and close: nothing if the client has gone. */
export function writeHttpError(socket: Duplex, status: number, body: object): void {
  if (!socket.writable) return void socket.destroy();
  const text = JSON.stringify(body);
  // Closed once written: a client still sending a body must not hold the socket open.
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`, () => socket.destroy());
}
