import { randomInt } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { HullError } from '../../core/errors.js';
import { withDeadline } from '../../core/poll.js';

/**
 * AgentClient: Hull's guest agent (guest/agent, a busybox sh script) over the
 * VM's virtio-serial port org.hull.agent, which QEMU serves on agent.sock.
 * One JSON object per line each way, answers matched by `id`:
 *
 *   const a = await AgentClient.connect('/…/agent.sock', { timeoutMs: 60_000 });  // resolves once the agent answers
 *   const r = await a.exec(['uname', '-r']);   // { exitCode: 0, stdout: <Buffer …>, stderr: <Buffer > }
 *   const s = a.execStream(['cat'], { stdin: true, onOutput: (stream, b) => … });   // output as it comes
 *   s.write(Buffer.from('hi\n')); s.end(); await s.exitCode;
 *   await a.close();
 *
 * The guest greets each new connection with {"event":"ready"}; connect also
 * sends a ping (a reconnect can come too fast for the greeting), and either
 * answer means the agent is up. Ids start at a random number, so a late
 * answer meant for an earlier connection is never taken for a new request's.
 */
export interface AgentExecOptions {
  env?: string[];
  cwd?: string;
  /** `uid[:gid]` or a user name known to the guest. */
  user?: string;
  stdin?: Buffer;
  timeoutMs?: number;
}

export interface AgentExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface AgentStreamOptions {
  env?: string[];
  cwd?: string;
  user?: string;
  /** Open a stdin channel: write() chunks, then end(). */
  stdin?: boolean;
  /** Run on a pseudo-terminal (the guest's telnetd; the stream is telnet, see exec.ts). */
  tty?: boolean;
  /** Run guest/cp with these words in the guest's own root (a VM-isolated container's `hull cp`), not a command in the container. */
  guestCopy?: boolean;
  /**
   * Each output chunk, as the command writes it. Answering false holds the
   * connection's reading (the guest's writes then wait) until resumeOutput():
   * a slow reader of a copy is not buffered without bound.
   */
  onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void | boolean;
}

/** A running exec: its stdin (sent in order, a few chunks in flight at most) and its exit code. */
export interface AgentExecStream {
  /** false: chunks are queued beyond the window; onDrain says when they have gone. */
  write(data: Buffer): boolean | void;
  onDrain(cb: () => void): void;
  /** Read the connection again after onOutput answered false. */
  resumeOutput(): void;
  /** The end of stdin, after what was written. */
  end(): void;
  exitCode: Promise<number>;
}

/** Stdin goes in chunks of at most this many bytes, at most WINDOW of them unacknowledged: the guest's control fifo (64 KiB) never fills. */
const STDIN_CHUNK = 8192;
const STDIN_WINDOW = 4;

export interface AgentInfo {
  hostname: string;
  uptime: number;
  kernel: string;
}

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  /** Messages before the answer (an exec's output chunks and stdin acks). */
  onEvent?: (m: Record<string, unknown>) => void;
}

export class AgentClient {
  private buf = '';
  private nextId = randomInt(1, 2 ** 40);
  private pending = new Map<number, Pending>();
  private closedWith?: HullError;
  private onReady?: () => void;

  private constructor(
    private sock: Socket,
    readonly path: string,
  ) {}

  /** Connect and wait until the agent answers (it starts last in the guest's boot). */
  static async connect(path: string, opts: { timeoutMs?: number } = {}): Promise<AgentClient> {
    return AgentClient.over(connect(path), path, opts);
  }

  /** The same over a connected stream (`path` names it in errors): a test runs the agent with a socketpair on its fd 3. */
  static async over(sock: Socket, path: string, opts: { timeoutMs?: number } = {}): Promise<AgentClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const a = new AgentClient(sock, path);
    sock.setEncoding('utf8');
    sock.on('data', (s: string) => a.onData(s));
    sock.on('error', (e: NodeJS.ErrnoException) => a.shut(`${e.code ?? e.message}`));
    sock.on('close', () => a.shut('connection closed'));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new HullError('unavailable', `guest agent (${path}) did not answer within ${timeoutMs} ms`)), timeoutMs);
        const done = (e?: Error) => {
          clearTimeout(timer);
          a.onReady = undefined;
          if (e) reject(e);
          else resolve();
        };
        a.onReady = () => done();
        a.request({ ping: true }, 0).then(
          () => done(),
          (e: Error) => done(e),
        );
      });
      return a;
    } catch (e) {
      sock.destroy();
      throw e;
    }
  }

  private onData(s: string): void {
    this.buf += s;
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) this.onLine(line);
    }
  }

  private onLine(line: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // a line the agent did not mean for us (a shell's error, say); nothing to match
    }
    if (m.event === 'ready') return this.onReady?.();
    const p = typeof m.id === 'number' ? this.pending.get(m.id) : undefined;
    if (!p) return;
    if (m.stream !== undefined || m.ack !== undefined) return p.onEvent?.(m);
    this.pending.delete(m.id as number);
    clearTimeout(p.timer);
    if (typeof m.error === 'string') p.reject(new HullError('internal', `guest agent: ${m.error}`));
    else p.resolve(m);
  }

  private shut(why: string): void {
    if (this.closedWith) return;
    this.closedWith = new HullError('unavailable', `guest agent (${this.path}): ${why}`);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(this.closedWith);
    }
    this.pending.clear();
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Send one request; `timeoutMs` 0 waits for ever. */
  request(body: Record<string, unknown>, timeoutMs = 30_000, onEvent?: Pending['onEvent'], id = this.nextId++): Promise<Record<string, unknown>> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => {
      const p: Pending = { resolve, reject, onEvent };
      if (timeoutMs > 0) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new HullError('unavailable', `guest agent: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.pending.set(id, p);
      this.sock.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }

  /**
   * Start a command; its output arrives through `onOutput` as the guest
   * reads it, and `exitCode` resolves once all of it has.
   */
  execStream(cmd: string[], opts: AgentStreamOptions): AgentExecStream {
    if (!cmd.length) throw new HullError('invalid', 'exec: no command');
    const id = this.nextId++;
    const body: Record<string, unknown> = { exec: cmd };
    if (opts.env?.length) body.env = opts.env;
    if (opts.cwd) body.cwd = opts.cwd;
    if (opts.user) body.user = opts.user;
    if (opts.guestCopy) body.cp = true;
    // The agent's main loop finds these two by their text: keep them last, in this order.
    if (opts.stdin) body.stdin = true;
    if (opts.tty) body.tty = true;
    const queue: Buffer[] = [];
    let inFlight = 0;
    let ended = false;
    let eofSent = !opts.stdin;
    let done = false;
    const drains: Array<() => void> = [];
    const pump = () => {
      while (!done && !this.closed && inFlight < STDIN_WINDOW && queue.length) {
        inFlight++;
        this.sock.write(`${JSON.stringify({ id, stdin: queue.shift()!.toString('base64') })}\n`);
      }
      if (!queue.length || done || this.closed) drains.splice(0).forEach((cb) => cb());
      if (!done && !this.closed && ended && !eofSent && !queue.length) {
        eofSent = true;
        this.sock.write(`${JSON.stringify({ id, eof: true })}\n`);
      }
    };
    const onEvent = (m: Record<string, unknown>) => {
      if (m.ack === true) {
        inFlight--;
        return pump();
      }
      if (m.stream !== 'stdout' && m.stream !== 'stderr') return;
      // A stream's first byte comes alone, as a number (the guest sends it without a process).
      let more: void | boolean = true;
      if (typeof m.byte === 'number') more = opts.onOutput(m.stream, Buffer.from([m.byte & 255]));
      else if (typeof m.data === 'string') more = opts.onOutput(m.stream, Buffer.from(m.data, 'base64'));
      if (more === false) this.sock.pause();
    };
    const exitCode = this.request(body, 0, onEvent, id).then((r) => Number(r.exit));
    exitCode
      .finally(() => {
        done = true;
        drains.splice(0).forEach((cb) => cb());
        // The guest's feeder holds the exec's fifos until its end.
        if (!eofSent && !this.closed) this.sock.write(`${JSON.stringify({ id, eof: true })}\n`);
        eofSent = true;
      })
      .catch(() => undefined);
    return {
      write: (data) => {
        if (!opts.stdin || ended) return;
        for (let i = 0; i < data.length; i += STDIN_CHUNK) queue.push(data.subarray(i, i + STDIN_CHUNK));
        pump();
        return queue.length === 0 || done || this.closed;
      },
      onDrain: (cb) => (queue.length === 0 || done || this.closed ? cb() : drains.push(cb)),
      resumeOutput: () => this.sock.resume(),
      end: () => {
        ended = true;
        pump();
      },
      exitCode,
    };
  }

  /** Run a command to its end and collect its output. */
  async exec(cmd: string[], opts: AgentExecOptions = {}): Promise<AgentExecResult> {
    const out: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
    const s = this.execStream(cmd, { env: opts.env, cwd: opts.cwd, user: opts.user, stdin: !!opts.stdin, onOutput: (k, b) => void out[k].push(b) });
    if (opts.stdin) {
      s.write(opts.stdin);
      s.end();
    }
    const ms = opts.timeoutMs;
    const exitCode = await (ms ? withDeadline(s.exitCode, ms, () => new HullError('unavailable', `guest agent: ${cmd[0]} did not finish within ${ms} ms`)) : s.exitCode);
    return { exitCode, stdout: Buffer.concat(out.stdout), stderr: Buffer.concat(out.stderr) };
  }

  async ping(timeoutMs = 5000): Promise<void> {
    await this.request({ ping: true }, timeoutMs);
  }

  async info(timeoutMs = 5000): Promise<AgentInfo> {
    const r = await this.request({ info: true }, timeoutMs);
    return { hostname: String(r.hostname), uptime: Number(r.uptime), kernel: String(r.kernel) };
  }

  /** Ask the guest to power off cleanly (it answers first). */
  async shutdown(timeoutMs = 5000): Promise<void> {
    await this.request({ shutdown: true }, timeoutMs);
  }

  async close(): Promise<void> {
    this.shut('closed');
    if (this.sock.destroyed) return;
    await new Promise<void>((resolve) => {
      this.sock.once('close', () => resolve());
      this.sock.end();
      setTimeout(() => this.sock.destroy(), 500).unref();
    });
  }
}
