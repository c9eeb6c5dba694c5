import { connect, type Socket } from 'node:net';
import { HullError, type ErrorCode } from '../../../core/errors.js';

/**
 * QmpClient: one connection to a QEMU Machine Protocol socket.
 *
 *   const qmp = await QmpClient.connect('/…/qmp.sock');   // greeting, then qmp_capabilities
 *   qmp.onEvent((ev) => …);                                 // STOP, RESUME, SHUTDOWN, …
 *   const st = await qmp.execute<{ status: string }>('query-status');
 *   await qmp.close();
 *
 * Commands may overlap: each carries an `id` and its answer is matched by it,
 * whatever events arrive in between. A QMP error answer becomes a QmpError (a
 * HullError carrying QMP's class and description); a command that gets no
 * answer in time, or a connection that closes under it, fails with
 * `unavailable`. A QEMU monitor socket serves one client at a time, so a
 * second connect waits until the first client goes (the connect timeout
 * covers that wait).
 */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpVersion {
  qemu: { major: number; minor: number; micro: number };
  package: string;
}

export interface QmpConnectOptions {
  /** For the socket to accept and QEMU to greet (default 5 s). */
  timeoutMs?: number;
}

export interface ExecuteOptions {
  /** For the answer (default 30 s); 0 waits for ever. */
  timeoutMs?: number;
}

/** A QMP `error` answer: `class` is QMP's (GenericError, CommandNotFound, DeviceNotFound, …). */
export class QmpError extends HullError {
  constructor(
    readonly command: string,
    readonly qmpClass: string,
    readonly desc: string,
  ) {
    super(codeFor(qmpClass), `QMP ${command}: ${desc} (${qmpClass})`, { qmpClass, desc });
  }
}

function codeFor(qmpClass: string): ErrorCode {
  if (qmpClass === 'CommandNotFound') return 'unavailable';
  if (qmpClass === 'DeviceNotFound') return 'not_found';
  return 'internal';
}

interface Pending {
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

type Message = { QMP?: { version: QmpVersion }; return?: unknown; error?: { class: string; desc: string }; id?: unknown } & Partial<QmpEvent>;

export class QmpClient {
  private buf = '';
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private eventListeners = new Set<(ev: QmpEvent) => void>();
  private closeListeners = new Set<(err?: Error) => void>();
  private closedWith?: HullError;
  version?: QmpVersion;

  private constructor(
    private sock: Socket,
    readonly path: string,
  ) {}

  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const sock = connect(path);
    const client = new QmpClient(sock, path);
    const greeting = new Promise<QmpVersion>((resolve, reject) => {
      const timer = setTimeout(() => reject(new HullError('unavailable', `QMP ${path}: no greeting within ${timeoutMs} ms`)), timeoutMs);
      client.greet = (m) => {
        clearTimeout(timer);
        if (m.QMP?.version?.qemu) resolve(m.QMP.version);
        else reject(new HullError('internal', `QMP ${path}: bad greeting ${JSON.stringify(m).slice(0, 200)}`));
      };
      client.failGreeting = (e) => {
        clearTimeout(timer);
        reject(e);
      };
    });
    client.attach();
    try {
      client.version = await greeting;
      await client.execute('qmp_capabilities', undefined, { timeoutMs });
      return client;
    } catch (e) {
      client.destroy();
      throw e;
    }
  }

  private greet?: (m: Message) => void;
  private failGreeting?: (e: HullError) => void;

  private attach(): void {
    this.sock.setEncoding('utf8');
    this.sock.on('data', (chunk: string) => this.onData(chunk));
    this.sock.on('error', (e: NodeJS.ErrnoException) => {
      const hungUp = e.code === 'ECONNRESET' || e.code === 'EPIPE';
      this.shut(new HullError('unavailable', `QMP ${this.path}: ${hungUp ? 'connection closed' : (e.code ?? e.message)}`));
    });
    this.sock.on('close', () => this.shut(new HullError('unavailable', `QMP ${this.path}: connection closed`)));
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) this.onLine(line);
    }
  }

  private onLine(line: string): void {
    let m: Message;
    try {
      m = JSON.parse(line) as Message;
    } catch {
      return this.protocolError(`not JSON: ${line.slice(0, 200)}`);
    }
    if (this.greet) {
      const g = this.greet;
      this.greet = undefined;
      this.failGreeting = undefined;
      return g(m);
    }
    if (typeof m.event === 'string') return this.emit(m as QmpEvent);
    const p = typeof m.id === 'number' ? this.pending.get(m.id) : undefined;
    if (!p) return; // an answer to a command we gave up on
    this.pending.delete(m.id as number);
    clearTimeout(p.timer);
    if (m.error) p.reject(new QmpError(p.command, m.error.class, m.error.desc));
    else p.resolve(m.return);
  }

  private protocolError(why: string): void {
    this.shut(new HullError('internal', `QMP ${this.path}: ${why}`));
    this.sock.destroy();
  }

  private emit(ev: QmpEvent): void {
    for (const l of this.eventListeners) {
      try {
        l(ev);
      } catch {
        // A listener's failure is its own; the connection carries on.
      }
    }
  }

  private shut(err: HullError): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.failGreeting?.(err);
    this.greet = undefined;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new HullError(err.code, `QMP ${p.command}: ${err.message}`));
    }
    this.pending.clear();
    for (const l of this.closeListeners) l(err);
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: ExecuteOptions = {}): Promise<T> {
    if (this.closedWith) return Promise.reject(new HullError(this.closedWith.code, `QMP ${command}: ${this.closedWith.message}`));
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { command, resolve: resolve as (v: unknown) => void, reject };
      if (timeoutMs > 0) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new HullError('unavailable', `QMP ${command}: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.pending.set(id, p);
      this.sock.write(`${JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id })}\n`);
    });
  }

  /** Run a human monitor (HMP) command; HMP reports failures as text, returned as is. */
  hmp(commandLine: string, opts?: ExecuteOptions): Promise<string> {
    return this.execute<string>('human-monitor-command', { 'command-line': commandLine }, opts);
  }

  /** Listen to every event; returns a function that stops listening. */
  onEvent(cb: (ev: QmpEvent) => void): () => void {
    this.eventListeners.add(cb);
    return () => this.eventListeners.delete(cb);
  }

  /** Called once when the connection ends (QEMU went away, or close()); returns a function that stops listening. */
  onClose(cb: (err?: Error) => void): () => void {
    if (this.closedWith) {
      cb(this.closedWith);
      return () => undefined;
    }
    this.closeListeners.add(cb);
    return () => this.closeListeners.delete(cb);
  }

  /** Resolve with the first event named `name` that `match` accepts. */
  waitEvent(name: string, match: (ev: QmpEvent) => boolean = () => true, timeoutMs = 30_000): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      let offClose = () => undefined as unknown;
      const done = (f: () => void) => {
        clearTimeout(timer);
        off();
        offClose();
        f();
      };
      const off = this.onEvent((ev) => ev.event === name && match(ev) && done(() => resolve(ev)));
      const timer = setTimeout(() => done(() => reject(new HullError('unavailable', `QMP: no ${name} event within ${timeoutMs} ms`))), timeoutMs);
      offClose = this.onClose((err) => done(() => reject(err ?? new HullError('unavailable', 'QMP connection closed'))));
    });
  }

  /** Close the connection; pending commands fail with `unavailable`. */
  async close(): Promise<void> {
    if (this.sock.destroyed) return;
    await new Promise<void>((resolve) => {
      this.sock.once('close', () => resolve());
      this.sock.end();
      setTimeout(() => this.sock.destroy(), 1000).unref();
    });
  }

  private destroy(): void {
    this.sock.destroy();
  }
}
