import { open } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { HullError } from '../../core/errors.js';
import type { StdioStream } from '../driver.js';

/** What a newly attached client is shown first: the console's last bytes, from a line start. */
const CONTEXT_BYTES = 4096;

/**
 * ConsoleHub: the VM's serial console (ttyS0), which QEMU serves on
 * console.sock to one client at a time, shared by any number of clients, as
 * a shared tmux session is. The hub holds Hull's one connection; every byte
 * the guest prints goes to every client, every client's input is typed at the
 * guest (all of it on `stdout`: a serial line has one stream).
 *
 *   const hub = await ConsoleHub.open(files.console, files.consoleLog, () => forget());
 *   const a = hub.attach(), b = hub.attach();   // both see the same output
 *   a.close();                                  // b goes on; when the last one leaves the hub closes
 *
 * A new client first gets the last few KiB the console printed (from the hub's
 * own buffer, seeded from console.log when the hub opens), so it does not look
 * at a blank screen. The hub ends, closing every client, when the last client
 * leaves, when QEMU goes (the socket closes) or on close().
 */
export class ConsoleHub {
  private clients = new Set<HubClient>();
  private recent: Buffer;
  private closed = false;

  private constructor(
    private sock: Socket,
    seed: Buffer,
    private onEnd: () => void,
  ) {
    this.recent = seed;
    sock.on('data', (b: Buffer) => this.output(b));
    sock.on('error', () => undefined);
    sock.on('close', () => this.close());
  }

  static async open(path: string, logPath: string, onEnd: () => void, timeoutMs = 5000): Promise<ConsoleHub> {
    const sock = await connectConsole(path, timeoutMs);
    return new ConsoleHub(sock, await tail(logPath, CONTEXT_BYTES), onEnd);
  }

  get ended(): boolean {
    return this.closed;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  attach(): StdioStream {
    if (this.closed) throw new HullError('unavailable', 'the serial console has closed');
    const c = new HubClient(context(this.recent), (b) => void this.sock.write(b), () => this.leave(c));
    this.clients.add(c);
    return c;
  }

  private output(b: Buffer): void {
    this.recent = Buffer.concat([this.recent, b]);
    if (this.recent.length > 2 * CONTEXT_BYTES) this.recent = this.recent.subarray(-CONTEXT_BYTES);
    for (const c of this.clients) c.deliver(b);
  }

  private leave(c: HubClient): void {
    this.clients.delete(c);
    if (!this.clients.size) this.close();
  }

  /** End the hub and every client; QEMU's console is free for the next connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onEnd();
    this.sock.destroy();
    for (const c of [...this.clients]) c.close();
  }
}

/** One attached client; data before its first onData is kept for it, starting with the context. */
class HubClient implements StdioStream {
  private dataCbs: Array<(stream: 'stdout' | 'stderr', data: Buffer) => void> = [];
  private closeCbs: Array<() => void> = [];
  private held: Buffer[] | undefined;
  private gone = false;

  constructor(
    context: Buffer,
    private send: (b: Buffer) => void,
    private leave: () => void,
  ) {
    this.held = context.length ? [context] : [];
  }

  deliver(b: Buffer): void {
    if (this.held) this.held.push(b);
    else this.dataCbs.forEach((cb) => cb('stdout', b));
  }

  onData(cb: (stream: 'stdout' | 'stderr', data: Buffer) => void): void {
    this.dataCbs.push(cb);
    const held = this.held;
    this.held = undefined;
    if (held?.length) cb('stdout', Buffer.concat(held));
  }

  onClose(cb: () => void): void {
    if (this.gone) cb();
    else this.closeCbs.push(cb);
  }

  write(data: Buffer): void {
    if (!this.gone) this.send(data);
  }

  // A serial line has no end-of-input; detaching is close().
  closeStdin(): void {}

  close(): void {
    if (this.gone) return;
    this.gone = true;
    this.leave();
    this.closeCbs.splice(0).forEach((cb) => cb());
  }
}

function connectConsole(path: string, timeoutMs: number): Promise<Socket> {
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
      resolve(sock);
    });
  });
}

/** The last `n` bytes of a file (empty when there is none). */
async function tail(path: string, n: number): Promise<Buffer> {
  const f = await open(path, 'r').catch(() => undefined);
  if (!f) return Buffer.alloc(0);
  try {
    const { size } = await f.stat();
    const len = Math.min(n, size);
    const b = Buffer.alloc(len);
    await f.read(b, 0, len, size - len);
    return b;
  } finally {
    await f.close();
  }
}

/** The last CONTEXT_BYTES of `recent`, from the first line start in them. */
function context(recent: Buffer): Buffer {
  const b = recent.subarray(-CONTEXT_BYTES);
  if (b.length < CONTEXT_BYTES) return Buffer.from(b);
  const nl = b.indexOf(10);
  return Buffer.from(nl >= 0 ? b.subarray(nl + 1) : b);
}
