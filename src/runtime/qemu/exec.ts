import { newId } from '../../core/ids.js';
import { HullError } from '../../core/errors.js';
import type { ExecOptions, ExecSession, Process, StdioStream } from '../driver.js';
import type { AgentClient, AgentExecStream } from './agent.js';

/**
 * `exec` in a VM, through the guest agent: output streams as the command
 * writes it, stdin (when asked for) as the client sends it.
 *
 * With a terminal (-t) the guest runs the command under busybox `telnetd -i`,
 * which allocates the pty, so the stream is telnet: the guest's option
 * requests (IAC DO/WILL …) are dropped, a doubled 0xff is one 0xff, and the
 * line telnetd prints before the program starts ("\r\r\n") is dropped; input
 * has 0xff doubled and CR sent as CR NUL (telnetd would eat a LF after a CR),
 * and a resize is a NAWS subnegotiation, which telnetd turns into TIOCSWINSZ
 * (SIGWINCH for the program).
 */
export function agentExec(agent: AgentClient, opts: ExecOptions): ExecSession {
  if (!opts.cmd.length) throw new HullError('invalid', 'exec: no command');
  const dataCbs: Array<(s: 'stdout' | 'stderr', b: Buffer) => void> = [];
  const closeCbs: Array<() => void> = [];
  const decoder = opts.tty ? new TelnetDecoder() : undefined;
  const emit = (s: 'stdout' | 'stderr', b: Buffer) => b.length && dataCbs.forEach((cb) => cb(s, b));
  const early: Buffer[] = [];
  let size: [number, number] | undefined = opts.tty && opts.consoleSize ? [opts.consoleSize.rows, opts.consoleSize.cols] : undefined;
  let run: AgentExecStream | undefined;
  let eof = false;
  let settle!: { resolve: (n: number) => void; reject: (e: unknown) => void };
  const exitCode = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
  exitCode.catch(() => undefined);
  const send = (b: Buffer) => (run ? run.write(b) : early.push(b));
  const stdio: StdioStream = {
    onData: (cb) => dataCbs.push(cb),
    onClose: (cb) => closeCbs.push(cb),
    write: (b) => void ((opts.stdin || opts.tty) && send(opts.tty ? telnetEscape(b) : b)),
    // On a terminal, the end of the client's input is not the program's: it ends when the client goes.
    closeStdin: () => !opts.tty && end(),
    close: () => end(),
  };
  function end() {
    eof = true;
    run?.end();
  }
  return {
    id: newId(),
    stdio,
    start: async () => {
      const env = opts.tty && !opts.env.some((e) => e.startsWith('TERM=')) ? [...opts.env, 'TERM=xterm'] : opts.env;
      run = agent.execStream(opts.cmd, {
        env,
        cwd: opts.workingDir || undefined,
        user: opts.user || undefined,
        stdin: opts.stdin || opts.tty,
        tty: opts.tty,
        onOutput: (s, b) => void emit(s, decoder ? decoder.push(b) : b),
      });
      if (size) run.write(naws(...size));
      early.splice(0).forEach((b) => run!.write(b));
      if (eof) run.end();
      run.exitCode.then(
        (code) => {
          closeCbs.forEach((cb) => cb());
          settle.resolve(code);
        },
        (e: unknown) => {
          closeCbs.forEach((cb) => cb());
          settle.reject(e);
        },
      );
      return 0; // the guest's pid is the guest's business
    },
    exitCode,
    resize: async (rows, cols) => {
      if (!opts.tty) return;
      if (run) run.write(naws(rows, cols));
      else size = [rows, cols];
    },
  };
}

const IAC = 0xff;

/** Telnet's NAWS subnegotiation: IAC SB NAWS cols rows IAC SE (busybox telnetd reads the four bytes raw). */
export function naws(rows: number, cols: number): Buffer {
  const c = Math.max(1, Math.min(cols, 0xfffe));
  const r = Math.max(1, Math.min(rows, 0xfffe));
  return Buffer.from([IAC, 250, 31, c >> 8, c & 255, r >> 8, r & 255, IAC, 240]);
}

/** Client bytes as telnet data: 0xff doubled, CR as CR NUL. */
export function telnetEscape(b: Buffer): Buffer {
  if (!b.includes(IAC) && !b.includes(13)) return b;
  const out: number[] = [];
  for (const c of b) {
    out.push(c);
    if (c === IAC) out.push(IAC);
    else if (c === 13) out.push(0);
  }
  return Buffer.from(out);
}

/** The data in telnetd's output: commands and subnegotiations dropped, across chunk boundaries. */
export class TelnetDecoder {
  private rest = Buffer.alloc(0);
  /** telnetd's login-issue line, printed before the program runs; dropped once. */
  private banner: Buffer | undefined = Buffer.from('\r\r\n');
  private held = Buffer.alloc(0);

  push(chunk: Buffer): Buffer {
    const b = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: number[] = [];
    let i = 0;
    for (; i < b.length; i++) {
      if (b[i] !== IAC) {
        out.push(b[i]);
        continue;
      }
      const cmd = b[i + 1];
      if (cmd === undefined) break; // incomplete: keep for the next chunk
      if (cmd === IAC) {
        out.push(IAC);
        i++;
      } else if (cmd >= 251 && cmd <= 254) {
        if (i + 2 >= b.length) break;
        i += 2; // WILL/WONT/DO/DONT option
      } else if (cmd === 250) {
        const se = b.indexOf(Buffer.from([IAC, 240]), i + 2);
        if (se < 0) break;
        i = se + 1; // a subnegotiation
      } else i++; // a two-byte command
    }
    this.rest = Buffer.from(b.subarray(i));
    return this.dropBanner(Buffer.from(out));
  }

  private dropBanner(data: Buffer): Buffer {
    const banner = this.banner;
    if (!banner || !data.length) return data;
    // What has come so far, held back while it is still the start of the banner.
    const seen = Buffer.concat([this.held, data]);
    const n = Math.min(banner.length, seen.length);
    if (!seen.subarray(0, n).equals(banner.subarray(0, n))) {
      this.banner = undefined;
      this.held = Buffer.alloc(0);
      return seen;
    }
    if (n < banner.length) {
      this.held = seen;
      return Buffer.alloc(0);
    }
    this.banner = undefined;
    this.held = Buffer.alloc(0);
    return seen.subarray(n);
  }
}

/** `top`: the guest's processes, from busybox ps inside it. */
export async function agentTop(agent: AgentClient): Promise<Process[]> {
  // busybox ps has no cpu-time column; the agent's own ps is left out.
  const r = await agent.exec(['ps', '-o', 'pid,user,args'], { timeoutMs: 10_000 });
  if (r.exitCode !== 0) throw new HullError('internal', `ps in the guest failed: ${r.stderr.toString().trim()}`);
  return r.stdout
    .toString()
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() && !/ ps -o pid,user,args$/.test(l))
    .map((l) => {
      const [pid, user, ...args] = l.trim().split(/\s+/);
      return { pid: Number(pid), user, cpuTime: '', command: args.join(' ') };
    });
}
