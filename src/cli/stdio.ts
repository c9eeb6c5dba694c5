import type { Duplex } from 'node:stream';
import { MuxDecoder } from '../api/streams.js';

/**
 * Relay an attach/exec stream to this terminal. With a tty: raw mode, bytes
 * both ways, resize on SIGWINCH. Without: demultiplex stdout/stderr frames.
 * Resolves when the stream ends.
 */
export function relay(socket: Duplex, opts: { tty: boolean; stdin: boolean; onResize?: (rows: number, cols: number) => void }): Promise<void> {
  return new Promise((resolve) => {
    const out = process.stdout;
    if (opts.tty) {
      socket.on('data', (b: Buffer) => out.write(b));
    } else {
      const dec = new MuxDecoder((stream, data) => (stream === 2 ? process.stderr : out).write(data));
      socket.on('data', (b: Buffer) => dec.push(b));
    }
    const stdin = process.stdin;
    let raw = false;
    if (opts.stdin) {
      if (opts.tty && stdin.isTTY) {
        stdin.setRawMode(true);
        raw = true;
      }
      stdin.on('data', (b: Buffer) => socket.write(b));
      stdin.on('end', () => {
        if (!opts.tty) socket.end();
      });
      stdin.resume();
    }
    const onWinch = () => opts.onResize?.(out.rows ?? 24, out.columns ?? 80);
    if (opts.tty && out.isTTY && opts.onResize) {
      process.on('SIGWINCH', onWinch);
      onWinch();
    }
    const done = () => {
      if (raw) stdin.setRawMode(false);
      stdin.pause();
      process.off('SIGWINCH', onWinch);
      resolve();
    };
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', done);
  });
}
