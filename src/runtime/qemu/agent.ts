import { randomInt } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { HullError } from '../../core/errors.js';

/**
 * AgentClient: Hull's guest agent (guest/agent, a busybox sh script) over the
 * VM's virtio-serial port org.hull.agent, which QEMU serves on agent.sock.
 * One JSON object per line each way, answers matched by `id`:
 *
 *   const a = await AgentClient.connect('/…/agent.sock', { timeoutMs: 60_000 });  // resolves once the agent answers
 *   const r = await a.exec(['uname', '-r']);   // { exitCode: 0, stdout: <Buffer …>, stderr: <Buffer > }
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

export interface AgentInfo {
  hostname: string;
  uptime: number;
  kernel: string;
}

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
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
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const sock = connect(path);
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
  request(body: Record<string, unknown>, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const p: Pending = { resolve, reject };
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

  async exec(cmd: string[], opts: AgentExecOptions = {}): Promise<AgentExecResult> {
    if (!cmd.length) throw new HullError('invalid', 'exec: no command');
    const body: Record<string, unknown> = { exec: cmd };
    if (opts.env?.length) body.env = opts.env;
    if (opts.cwd) body.cwd = opts.cwd;
    if (opts.user) body.user = opts.user;
    if (opts.stdin?.length) body.stdin = opts.stdin.toString('base64');
    const r = await this.request(body, opts.timeoutMs ?? 0);
    const dec = (v: unknown) => Buffer.from(typeof v === 'string' ? v : '', r.enc === 'base64' ? 'base64' : 'utf8');
    return { exitCode: Number(r.exit), stdout: dec(r.stdout), stderr: dec(r.stderr) };
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
