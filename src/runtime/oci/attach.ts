import { SeqpacketSocket } from 'node-unix-socket';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError } from '../../core/errors.js';

/**
 * A connection to conmon's attach socket (<bundle>/attach, SOCK_SEQPACKET).
 * Each packet conmon sends starts with one byte naming the stream
 * (2 = stdout, 3 = stderr), then the data; what we write goes to stdin.
 * Window size changes go through the bundle's `ctl` fifo as "1 H W\n".
 *
 * Input goes in packets of at most PACKET bytes: conmon reads the socket
 * into a 32 KiB buffer, and a SOCK_SEQPACKET read that is shorter than the
 * packet keeps the start and silently drops the rest. Writes are queued in
 * node-unix-socket until the kernel takes them (conmon stops reading while
 * the container's stdin pipe is full); `write` answers false once more
 * than HIGH_WATER bytes wait, and `onDrain` callbacks run when the queue is
 * back under LOW_WATER, so a caller can pause its source instead of
 * buffering without bound. The end of input (`closeStdin`) is a shutdown
 * sent after the last queued packet.
 */
export type StreamKind = 'stdout' | 'stderr';

/** conmon's CONN_SOCK_BUF_SIZE: the most it reads from the attach socket at once. */
export const PACKET = 32 * 1024;
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

export interface AttachConnection {
  onData(cb: (stream: StreamKind, data: Buffer) => void): void;
  onClose(cb: () => void): void;
  /** Queue input; false when the caller should wait for onDrain before writing more. */
  write(data: Buffer): boolean;
  onDrain(cb: () => void): void;
  closeStdin(): void;
  close(): void;
}

export function connectAttach(bundle: string): Promise<AttachConnection> {
  const path = join(bundle, 'attach');
  return new Promise((resolve, reject) => {
    const sock = new SeqpacketSocket();
    sock.setInternalReadBufferSize(64 * 1024);
    let connected = false;
    const conn = new Attached(sock);
    sock.on('data', (buf: Buffer) => conn.received(buf));
    sock.on('end', () => conn.ended());
    sock.on('close', () => conn.ended());
    sock.on('error', (e: Error) => {
      if (!connected) reject(new HullError('wrong_state', `cannot attach: ${e.message}`));
      conn.ended();
    });
    try {
      sock.connect(path, () => {
        connected = true;
        resolve(conn);
      });
    } catch (e) {
      reject(new HullError('wrong_state', `cannot attach: ${(e as Error).message}`));
    }
  });
}

class Attached implements AttachConnection {
  private dataCbs: Array<(s: StreamKind, d: Buffer) => void> = [];
  private closeCbs: Array<() => void> = [];
  private drainCbs: Array<() => void> = [];
  private queued = 0;
  private full = false;
  private closed = false;
  private inputEnded = false;

  constructor(private sock: SeqpacketSocket) {}

  received(buf: Buffer): void {
    if (buf.length < 1) return;
    const kind: StreamKind = buf[0] === 3 ? 'stderr' : 'stdout';
    const data = buf.subarray(1);
    for (const cb of this.dataCbs) cb(kind, data);
  }

  ended(): void {
    if (this.closed) return;
    this.closed = true;
    for (const cb of this.closeCbs) cb();
    // Nobody will take more input: let a paused writer go on (its writes are dropped).
    this.drained();
  }

  onData(cb: (s: StreamKind, d: Buffer) => void): void {
    this.dataCbs.push(cb);
  }

  onClose(cb: () => void): void {
    if (this.closed) cb();
    else this.closeCbs.push(cb);
  }

  onDrain(cb: () => void): void {
    this.drainCbs.push(cb);
  }

  write(data: Buffer): boolean {
    if (this.closed || this.inputEnded) return true;
    for (let off = 0; off < data.length; off += PACKET) {
      const packet = data.subarray(off, off + PACKET);
      this.queued += packet.length;
      this.sock.write(packet, 0, packet.length, () => this.sent(packet.length));
    }
    if (this.queued >= HIGH_WATER) this.full = true;
    return !this.full;
  }

  private sent(n: number): void {
    this.queued -= n;
    if (this.full && this.queued <= LOW_WATER) this.drained();
  }

  private drained(): void {
    this.full = false;
    for (const cb of this.drainCbs) cb();
  }

  closeStdin(): void {
    if (this.closed || this.inputEnded) return;
    this.inputEnded = true;
    this.sock.end();
  }

  close(): void {
    this.sock.destroy();
    this.ended();
  }
}

/**
 * Resize the container's terminal through conmon's ctl fifo. The fifo is opened
 * without blocking: once conmon has gone (the command ended, as a short exec does
 * right after its start) a blocking open would wait for a reader forever, holding
 * one of libuv's few pool threads, and a handful of late resizes would stall
 * every file operation of the daemon. With no reader the open fails (ENXIO) and
 * the resize is a state error. The line is shorter than PIPE_BUF, so it is
 * written whole or not at all.
 */
export async function resizeTerminal(bundle: string, rows: number, cols: number): Promise<void> {
  const h = Math.max(0, Math.min(1000, Math.floor(rows)));
  const w = Math.max(0, Math.min(1000, Math.floor(cols)));
  let fh;
  try {
    fh = await open(join(bundle, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    if (!(await fh.stat()).isFIFO()) throw new Error('ctl is not a fifo');
    await fh.write(`1 ${h} ${w}\n`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new HullError('wrong_state', code === 'ENXIO' ? 'cannot resize: the terminal has gone' : `cannot resize: ${(e as Error).message}`);
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
