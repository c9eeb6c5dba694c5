import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { StdioStream } from '../runtime/driver.js';
import { MuxDecoder, pipeStdio } from './streams.js';

/** An instance's stdio whose input queue is full until `drain()`. */
class FakeStdio implements StdioStream {
  input: Buffer[] = [];
  full = false;
  stdinClosed = false;
  closed = false;
  private dataCbs: Array<(s: 'stdout' | 'stderr', d: Buffer) => void> = [];
  private drainCbs: Array<() => void> = [];
  private closeCbs: Array<() => void> = [];
  onData(cb: (s: 'stdout' | 'stderr', d: Buffer) => void) {
    this.dataCbs.push(cb);
  }
  onClose(cb: () => void) {
    this.closeCbs.push(cb);
  }
  onDrain(cb: () => void) {
    this.drainCbs.push(cb);
  }
  write(d: Buffer) {
    this.input.push(d);
    return !this.full;
  }
  closeStdin() {
    this.stdinClosed = true;
  }
  close() {
    this.closed = true;
    this.closeCbs.forEach((cb) => cb());
  }
  emit(d: Buffer) {
    this.dataCbs.forEach((cb) => cb('stdout', d));
  }
  drain() {
    this.full = false;
    this.drainCbs.forEach((cb) => cb());
  }
}

/** The client's connection, seen from the daemon: what it sends, and a reader that takes nothing until `catchUp()`. */
function connection() {
  const sent: Buffer[] = [];
  let stuck: (() => void) | undefined;
  let reading = false;
  const sock = new Duplex({
    read() {},
    write(chunk, _enc, cb) {
      sent.push(chunk);
      if (reading) cb();
      else stuck = cb;
    },
  });
  const catchUp = () => {
    reading = true;
    stuck?.();
  };
  return { sock, sent, catchUp };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('pipeStdio', () => {
  it('pauses the client while the instance is behind and passes the end of input after the last byte', async () => {
    const stdio = new FakeStdio();
    const { sock } = connection();
    void pipeStdio(stdio, sock, false, true);
    stdio.full = true;
    sock.push(Buffer.from('one'));
    await tick();
    expect(sock.isPaused()).toBe(true);
    sock.push(Buffer.from('two'));
    sock.push(null);
    await tick();
    expect(Buffer.concat(stdio.input).toString()).toBe('one');
    expect(stdio.stdinClosed).toBe(false);
    stdio.drain();
    await tick();
    expect(Buffer.concat(stdio.input).toString()).toBe('onetwo');
    expect(stdio.stdinClosed).toBe(true);
  });

  it('cuts off a client that falls too far behind the output, with a message at the end', async () => {
    const stdio = new FakeStdio();
    const { sock, sent, catchUp } = connection();
    const done = pipeStdio(stdio, sock, false, false, 1000);
    for (let i = 0; i < 20; i++) stdio.emit(Buffer.alloc(100, 120));
    await done;
    expect(stdio.closed).toBe(true);
    expect(sock.writableEnded).toBe(true);
    catchUp();
    await tick();
    const frames: Array<[number, string]> = [];
    new MuxDecoder((s, d) => frames.push([s, d.toString()])).push(Buffer.concat(sent));
    // What was queued (a little over the limit), in order, then the message on stderr.
    expect(frames.slice(0, -1).every(([s, d]) => s === 1 && d === 'x'.repeat(100))).toBe(true);
    expect(frames.length - 1).toBeGreaterThanOrEqual(9);
    expect(frames.at(-1)).toEqual([2, 'hull: output cut off: this client fell more than 1000B behind\n']);
  });
});
