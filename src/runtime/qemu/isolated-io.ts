import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../../core/log-config.js';
import type { StdioStream } from '../driver.js';
import { RotatingLogWriter } from '../logs/writer.js';
import { naws, TelnetDecoder, telnetEscape } from './exec.js';

/**
 * IsolatedIo: the daemon's side of a VM-isolated container's ports (guest/run
 * is the other). QEMU serves each virtio-serial port on a unix socket; this
 * connects to them and
 *
 *   stdout/stderr  appends each chunk to the container's log in conmon's
 *                  k8s-file format (so `hull logs` reads it like any
 *                  container's), rotated by the log policy (logs/writer.ts),
 *                  and hands it to attached clients
 *   stdin          carries what an attached client types (`-i`)
 *   ctl            reads "exit CODE OUT ERR": waits until OUT and ERR bytes
 *                  have arrived, calls onExit (which records the code), then
 *                  answers "ack" and the guest powers off; writes "signal N"
 *
 * The byte counts are kept in a file as they grow, so a daemon restarted in
 * the middle of a run (the guest waited on its ports meanwhile) carries on
 * counting. A guest write waits while nobody is connected, so nothing is lost
 * while the daemon is away; the program only stalls.
 *
 *   const io = await IsolatedIo.open(paths, { log, counts, onExit: (code) => … });
 *   const s = io.attach();  // a StdioStream
 *   io.signal(15);
 *   await io.close();
 */
export interface IsolatedIoPaths {
  stdout: string;
  stderr: string;
  ctl: string;
  /** Present when the container was created with -i. */
  stdin?: string;
}

export interface IsolatedIoOptions {
  /** The k8s-file log. */
  log: string;
  /** How it is rotated (default: the built-in policy). */
  logPolicy?: LogConfig;
  /** Where the byte counts are kept across daemon restarts. */
  counts: string;
  /** The program ended with `code` and all of its output is in the log; resolve once it is recorded. */
  onExit: (code: number) => Promise<void>;
  /** The ports' sockets may take a moment to appear after QEMU starts. */
  timeoutMs?: number;
  /**
   * The program is on a terminal (guest/run's telnetd): stdout is a telnet
   * stream (decoded here; exec.ts's TelnetDecoder), input is escaped, a resize
   * is a NAWS message, and the end of a client's input is not the program's.
   */
  tty?: boolean;
}

type Stream = 'stdout' | 'stderr';
type Subscriber = (stream: Stream, data: Buffer) => void;

export class IsolatedIo {
  private received = { stdout: 0, stderr: 0 };
  private subs = new Set<Subscriber>();
  private closeCbs = new Set<() => void>();
  private log: RotatingLogWriter;
  private countsTimer?: NodeJS.Timeout;
  private progress?: () => void;
  private closed = false;
  private ended = false;
  // A character split across two chunks is written whole, with the second.
  private decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  private telnet?: TelnetDecoder;

  private constructor(
    private socks: { stdout: Socket; stderr: Socket; ctl: Socket; stdin?: Socket },
    private o: IsolatedIoOptions,
    counts: { stdout: number; stderr: number },
  ) {
    this.received = counts;
    if (o.tty) this.telnet = new TelnetDecoder();
    this.log = new RotatingLogWriter(o.log, o.logPolicy ?? DEFAULT_LOG_CONFIG);
    for (const name of ['stdout', 'stderr'] as const) {
      socks[name].on('data', (b: Buffer) => this.onOutput(name, b));
      socks[name].on('close', () => this.onPortClosed());
    }
    let buf = '';
    socks.ctl.on('data', (b: Buffer) => {
      buf += b.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^exit (\d+) (\d+) (\d+)$/.exec(line.trim());
        if (m) void this.onReport(Number(m[1]), Number(m[2]), Number(m[3]));
      }
    });
    socks.ctl.on('close', () => this.onPortClosed());
  }

  static async open(paths: IsolatedIoPaths, o: IsolatedIoOptions): Promise<IsolatedIo> {
    const timeoutMs = o.timeoutMs ?? 10_000;
    const counts = await readFile(o.counts, 'utf8').then(
      (t) => JSON.parse(t) as { stdout: number; stderr: number },
      () => ({ stdout: 0, stderr: 0 }),
    );
    const opened: Socket[] = [];
    try {
      const get = async (p: string) => {
        const s = await connectRetry(p, timeoutMs);
        opened.push(s);
        return s;
      };
      const socks = { stdout: await get(paths.stdout), stderr: await get(paths.stderr), ctl: await get(paths.ctl), stdin: paths.stdin ? await get(paths.stdin) : undefined };
      return new IsolatedIo(socks, o, counts);
    } catch (e) {
      opened.forEach((s) => s.destroy());
      throw e;
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onOutput(stream: Stream, raw: Buffer): void {
    this.received[stream] += raw.length;
    const b = this.telnet && stream === 'stdout' ? this.telnet.push(raw) : raw;
    const text = this.decoders[stream].write(b);
    if (text) this.log.write(logRecords(stream, text));
    for (const cb of this.subs) cb(stream, b);
    this.saveCountsSoon();
    this.progress?.();
  }

  private saveCountsSoon(): void {
    if (this.countsTimer) return;
    this.countsTimer = setTimeout(() => this.saveCounts(), 50);
  }

  private saveCounts(): void {
    clearTimeout(this.countsTimer);
    this.countsTimer = undefined;
    try {
      writeFileSync(this.o.counts, JSON.stringify(this.received));
    } catch {
      // the instance's directory is gone (removed): nothing to keep
    }
  }

  private async onReport(code: number, out: number, err: number): Promise<void> {
    // Counts restored from a file written just before a daemon was killed may lag: then wait a little, not for ever.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      this.progress = () => {
        if (this.received.stdout >= out && this.received.stderr >= err) {
          clearTimeout(timer);
          resolve();
        }
      };
      this.progress();
    });
    this.progress = undefined;
    this.saveCounts();
    await this.o.onExit(code);
    this.ended = true;
    if (!this.socks.ctl.destroyed) this.socks.ctl.write('ack\n');
    this.endSubscribers();
  }

  private onPortClosed(): void {
    // QEMU went away (or closed a port): attached clients see the end.
    this.endSubscribers();
  }

  private endSubscribers(): void {
    const cbs = [...this.closeCbs];
    this.closeCbs.clear();
    this.subs.clear();
    cbs.forEach((cb) => cb());
  }

  /** A terminal's new size (telnetd turns it into TIOCSWINSZ: SIGWINCH for the program). */
  resize(rows: number, cols: number): void {
    if (this.o.tty && this.socks.stdin && !this.socks.stdin.destroyed) this.socks.stdin.write(naws(rows, cols));
  }

  /**
   * The end of the program's input (not on a terminal: there input has no
   * end). The guest reads what was sent until the port's host side goes, and
   * ends the program's stdin only at "eof": a port dropped without it is a
   * daemon going away, whose next self reconnects (guest/run).
   */
  private endStdin(): void {
    if (this.o.tty || !this.socks.stdin) return;
    this.socks.stdin.end();
    if (!this.socks.ctl.destroyed) this.socks.ctl.write('eof\n');
  }

  /** Send a signal (by number) to the program. */
  signal(n: number): void {
    if (!this.socks.ctl.destroyed) this.socks.ctl.write(`signal ${n}\n`);
  }

  /** A client's view: output from now on, input to the program's stdin (when it has one). */
  attach(): StdioStream {
    let sub: Subscriber | undefined;
    let closeCb: (() => void) | undefined;
    return {
      onData: (cb) => {
        sub = cb;
        this.subs.add(cb);
      },
      onClose: (cb) => {
        closeCb = cb;
        if (this.ended || this.closed) cb();
        else this.closeCbs.add(cb);
      },
      write: (data) => void this.socks.stdin?.write(this.o.tty ? telnetEscape(data) : data),
      closeStdin: () => this.endStdin(),
      close: () => {
        if (sub) this.subs.delete(sub);
        if (closeCb) this.closeCbs.delete(closeCb);
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.saveCounts();
    this.endSubscribers();
    for (const s of Object.values(this.socks)) s?.destroy();
    this.log.close();
  }
}

/** conmon's k8s-file records for one chunk: each full line `F`, a last piece without its newline `P`. */
export function logRecords(stream: Stream, text: string, now = new Date()): string {
  const time = now.toISOString().replace(/\.(\d{3})Z$/, '.$1000000+00:00');
  const parts = text.split('\n');
  const last = parts.pop()!;
  let out = parts.map((p) => `${time} ${stream} F ${p}\n`).join('');
  if (last) out += `${time} ${stream} P ${last}\n`;
  return out;
}

/** Connect to a unix socket QEMU serves, retrying while it is not there yet. */
async function connectRetry(path: string, timeoutMs: number): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = connect(path);
        s.once('connect', () => {
          s.removeAllListeners('error');
          s.on('error', () => undefined);
          resolve(s);
        });
        s.once('error', reject);
      });
    } catch (e) {
      if (Date.now() >= deadline) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
