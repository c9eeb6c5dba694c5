import { connect } from 'node:net';
import { HullError } from '../../core/errors.js';
import type { StdioStream } from '../driver.js';

/**
 * The VM's serial console (ttyS0), served by QEMU on console.sock: bytes in
 * are typed at the guest's console, bytes out are what it prints (all of it
 * on `stdout`; a serial line has one stream). QEMU serves one console client
 * at a time: a second attach waits until the first detaches. What the console
 * printed while nobody was attached is in console.log (`logs`).
 */
export function attachConsole(path: string, opts: { timeoutMs?: number } = {}): Promise<StdioStream> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new HullError('unavailable', `serial console ${path}: not reachable within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new HullError('unavailable', `serial console ${path}: ${e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'the VM is not running' : e.message}`));
    });
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.on('error', () => undefined);
      const dataCbs: Array<(stream: 'stdout' | 'stderr', data: Buffer) => void> = [];
      sock.on('data', (b: Buffer) => dataCbs.forEach((cb) => cb('stdout', b)));
      resolve({
        onData: (cb) => dataCbs.push(cb),
        onClose: (cb) => sock.once('close', cb),
        write: (data) => void sock.write(data),
        // A serial line has no end-of-input; detaching is close().
        closeStdin: () => undefined,
        close: () => sock.destroy(),
      });
    });
  });
}
