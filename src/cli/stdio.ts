import type { Duplex } from 'node:stream';
import { MuxDecoder } from '../api/streams.js';
import { DetachScanner } from '../core/detach-keys.js';

export interface RelayOptions {
  tty: boolean;
  stdin: boolean;
  onResize?: (rows: number, cols: number) => void;
  /** With a terminal and stdin: the keys that leave the container running (see detach-keys.ts). */
  detachKeys?: Buffer;
}

/** With a terminal: this one's size, for an exec to start with (docker's ConsoleSize); none when stdout is no terminal. */
export function consoleSize(tty: boolean): { consoleSize?: { rows: number; cols: number } } {
  const out = process.stdout;
  return tty && out.isTTY && out.rows && out.columns ? { consoleSize: { rows: out.rows, cols: out.columns } } : {};
}

/** How a relay ended: the stream closed, or the user typed the detach keys. */
export type RelayEnd = 'ended' | 'detached';

/**
 * Relay an attach/exec stream to this terminal. With a tty: raw mode, bytes
 * both ways, resize on SIGWINCH, and the detach keys (docker's, which only
 * a terminal has: piped input is data, byte for byte). Without: demultiplex
 * stdout/stderr frames. Input keeps the daemon's pace (stdin is paused
 * while the socket's buffer is full); its end is sent as a half-close,
 * after the last byte, except on a terminal, whose input has no end.
 * Resolves when the stream ends or the user detaches.
 */
export function relay(socket: Duplex, opts: RelayOptions): Promise<RelayEnd> {
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
    let finished = false;
    const finish = (how: RelayEnd) => {
      if (finished) return;
      finished = true;
      if (raw) stdin.setRawMode(false);
      stdin.off('data', onInput);
      stdin.pause();
      process.off('SIGWINCH', onWinch);
      if (how === 'ended') return resolve(how);
      // What was typed before the keys still goes; then the connection, not the container, ends.
      const t = setTimeout(() => socket.destroy(), 1000);
      socket.end(() => {
        clearTimeout(t);
        socket.destroy();
      });
      socket.once('close', () => resolve(how));
    };
    const scanner = opts.tty && opts.detachKeys?.length ? new DetachScanner(opts.detachKeys) : undefined;
    const onInput = (b: Buffer) => {
      const r = scanner ? scanner.push(b) : { data: b, detach: false };
      // Keep the daemon's pace: stop reading while the socket's buffer is full.
      if (r.data.length && !socket.write(r.data)) stdin.pause();
      if (r.detach) finish('detached');
    };
    if (opts.stdin) {
      if (opts.tty && stdin.isTTY) {
        stdin.setRawMode(true);
        raw = true;
      }
      stdin.on('data', onInput);
      socket.on('drain', () => !finished && stdin.resume());
      stdin.on('end', () => {
        if (!opts.tty && !finished) socket.end();
      });
      stdin.resume();
    }
    const onWinch = () => opts.onResize?.(out.rows ?? 24, out.columns ?? 80);
    if (opts.tty && out.isTTY && opts.onResize) {
      process.on('SIGWINCH', onWinch);
      onWinch();
    }
    socket.on('end', () => finish('ended'));
    socket.on('close', () => finish('ended'));
    socket.on('error', () => finish('ended'));
  });
}

/** docker's words when a user leaves with the detach keys. */
export function reportDetach(): void {
  process.stderr.write('read escape sequence\n');
}

/**
 * docker's rule: a container's terminal needs one here. Input from a pipe or
 * a file into a tty would be echoed and cooked by the line discipline, and
 * its end never reaches the program (a terminal has no end of input).
 */
export function checkTty(attachStdin: boolean, tty: boolean): void {
  if (tty && attachStdin && !process.stdin.isTTY) throw new Error('the input device is not a TTY');
}

/**
 * stdout and stderr, once: a reader that went away (`hull save … | head -c0`)
 * ends the CLI quietly, as SIGPIPE ends a unix tool (status 141), instead of
 * an "Error: write EPIPE" or a stack trace.
 */
export function guardStdio(): void {
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(EXIT_SIGPIPE);
      throw e;
    });
  }
}

export const EXIT_SIGPIPE = 141;

export function isEpipe(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
}

/** Resolves once what was written to stdout and stderr has left the process. */
export async function flushStdio(): Promise<void> {
  await Promise.all(
    [process.stdout, process.stderr].map(
      (s) => new Promise<void>((resolve) => (s.writableLength && !s.destroyed ? s.write('', () => resolve()) : resolve())),
    ),
  );
}

/**
 * After the exit is known: wait for the relay to end, so output still in
 * flight is printed, for as long as some keeps coming; a stream that falls
 * silent for `idleMs` without closing must not hold the CLI.
 */
export function settled(relaying: Promise<unknown>, socket: Duplex, idleMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    let t = setTimeout(done, idleMs);
    const onData = () => {
      clearTimeout(t);
      t = setTimeout(done, idleMs);
    };
    socket.on('data', onData);
    void relaying.then(done, done);
    function done() {
      clearTimeout(t);
      socket.off('data', onData);
      resolve();
    }
  });
}
