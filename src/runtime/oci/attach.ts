import { SeqpacketSocket } from 'node-unix-socket';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError } from '../../core/errors.js';

/**
 * A connection to conmon's attach socket (<bundle>/attach, SOCK_SEQPACKET).
 * Each packet conmon sends starts with one byte naming the stream
 * (2 = stdout, 3 = stderr), then the data; what we write goes to stdin.
 * Window size changes go through the bundle's `ctl` fifo as "1 H W\n".
 */
export type StreamKind = 'stdout' | 'stderr';

export interface AttachConnection {
  onData(cb: (stream: StreamKind, data: Buffer) => void): void;
  onClose(cb: () => void): void;
  write(data: Buffer): void;
  closeStdin(): void;
  close(): void;
}

export function connectAttach(bundle: string): Promise<AttachConnection> {
  const path = join(bundle, 'attach');
  return new Promise((resolve, reject) => {
    const sock = new SeqpacketSocket();
    sock.setInternalReadBufferSize(64 * 1024);
    const dataCbs: Array<(s: StreamKind, d: Buffer) => void> = [];
    const closeCbs: Array<() => void> = [];
    let closed = false;
    const fireClose = () => {
      if (closed) return;
      closed = true;
      for (const cb of closeCbs) cb();
    };
    sock.on('data', (buf: Buffer) => {
      if (buf.length < 1) return;
      const kind: StreamKind = buf[0] === 3 ? 'stderr' : 'stdout';
      const data = buf.subarray(1);
      for (const cb of dataCbs) cb(kind, data);
    });
    sock.on('end', fireClose);
    sock.on('close', fireClose);
    sock.on('error', (e: Error) => {
      if (!connected) reject(new HullError('wrong_state', `cannot attach: ${e.message}`));
      fireClose();
    });
    let connected = false;
    try {
      sock.connect(path, () => {
        connected = true;
        resolve({
          onData: (cb) => dataCbs.push(cb),
          onClose: (cb) => (closed ? cb() : closeCbs.push(cb)),
          write: (d) => {
            if (!closed && d.length) sock.write(d);
          },
          closeStdin: () => {
            if (!closed) sock.end();
          },
          close: () => {
            sock.destroy();
            fireClose();
          },
        });
      });
    } catch (e) {
      reject(new HullError('wrong_state', `cannot attach: ${(e as Error).message}`));
    }
  });
}

/** Resize the container's terminal through conmon's ctl fifo. */
export async function resizeTerminal(bundle: string, rows: number, cols: number): Promise<void> {
  const h = Math.max(0, Math.min(1000, Math.floor(rows)));
  const w = Math.max(0, Math.min(1000, Math.floor(cols)));
  // The fifo has a reader (conmon) while the container runs; O_NONBLOCK would
  // fail with ENXIO when it does not, which we report as a state error.
  try {
    await writeFile(join(bundle, 'ctl'), `1 ${h} ${w}\n`, { flag: 'a' });
  } catch (e) {
    throw new HullError('wrong_state', `cannot resize: ${(e as Error).message}`);
  }
}
