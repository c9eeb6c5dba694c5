import { PassThrough } from 'node:stream';
import { HullError, invalid, notFound } from '../../core/errors.js';
import { sleep, withDeadline } from '../../core/poll.js';
import type { FileCopier } from '../driver.js';
import type { AgentClient, AgentExecStream } from './agent.js';

/** What is kept of the guest's stderr for a message, and of a probe's answer. */
const STDERR_MAX = 2048;
const PROBE_MAX = 8192;
const PATH_MAX = 4096;
const PROBE_MS = 30_000;
/** How long a guest may take to end its side once there is nothing more to copy (its stdin ended, or the reader gone). */
const EXIT_GRACE_MS = 30_000;

/**
 * `hull cp` for a VM-isolated container, through its guest agent: guest/cp
 * resolves the paths and runs busybox tar in the container's root, in the
 * guest. The host never mounts the container's disk. What the guest sends
 * is hostile to the host and treated so: the tar goes to the client as it
 * is (never extracted by the daemon), a probe's answer is one bounded line
 * checked against its grammar, stderr is cut short and stripped of control
 * characters. A reader that goes away ends the guest's tar (the end of its
 * stdin); a slow one holds the agent's connection (the guest waits) rather
 * than the daemon buffering without bound.
 */
export class GuestCopier implements FileCopier {
  constructor(
    private agent: AgentClient,
    /** PROBE_MS and EXIT_GRACE_MS unless said (tests). */
    private limits = { answerMs: PROBE_MS, exitGraceMs: EXIT_GRACE_MS },
  ) {}

  pack(src: { path: string; top: string; followLast: boolean; mustBeDir: boolean }): Promise<{ stream: NodeJS.ReadableStream; done: Promise<void> }> {
    return new Promise((resolve, reject) => {
      const out = new PassThrough({ highWaterMark: 256 * 1024 });
      const err = new Capped(STDERR_MAX);
      let started = false;
      let gone = false;
      let done: Promise<void> = Promise.resolve();
      let readerGone!: () => void;
      const gonePromise = new Promise<void>((r) => (readerGone = r));
      // A guest that neither sends nor ends does not hold the copy (and the container's lock) open.
      const firstWord = setTimeout(() => {
        if (started) return;
        run.end();
        reject(new HullError('unavailable', `the guest did not answer the copy within ${this.limits.answerMs} ms`));
      }, this.limits.answerMs);
      const run = this.agent.execStream(['out', src.path, flag(src.followLast), flag(src.mustBeDir), src.top], {
        guestCopy: true,
        stdin: true,
        onOutput: (k, b) => {
          if (k === 'stderr') return void err.add(b);
          if (gone) return;
          if (!started) {
            started = true;
            clearTimeout(firstWord);
            resolve({ stream: out, done });
          }
          return out.write(b);
        },
      });
      out.on('drain', () => run.resumeOutput());
      out.on('close', () => {
        gone = true;
        run.end(); // the guest stops its tar
        run.resumeOutput();
        readerGone();
      });
      const exited = run.exitCode.finally(() => clearTimeout(firstWord)).then(
        (code) => {
          if (code === 0 && started) return void out.end();
          const e = code === 0 ? notFound(`"${src.path}"`) : failure(code, src.path, err.text());
          if (started) out.destroy(e);
          else reject(e);
        },
        (e: unknown) => void (started ? out.destroy(e as Error) : reject(e)),
      );
      // Done when the guest has ended, or a while after the reader went should it never end.
      done = Promise.race([exited, gonePromise.then(() => sleep(this.limits.exitGraceMs))]);
    });
  }

  async probe(path: string): Promise<{ kind: 'dir' | 'file' | 'missing' | 'dangling' | 'noparent'; resolved: string }> {
    const out = new Capped(PROBE_MAX);
    const err = new Capped(STDERR_MAX);
    const run = this.agent.execStream(['stat', path], { guestCopy: true, onOutput: (k, b) => void (k === 'stdout' ? out : err).add(b) });
    const code = await withDeadline(run.exitCode, this.limits.answerMs, () => new HullError('unavailable', `the guest did not answer the copy within ${this.limits.answerMs} ms`));
    if (code !== 0) throw failure(code, path, err.text());
    return parseProbe(out.raw());
  }

  async unpack(dir: string, archive: NodeJS.ReadableStream): Promise<void> {
    const err = new Capped(STDERR_MAX);
    const run = this.agent.execStream(['in', dir], { guestCopy: true, stdin: true, onOutput: (k, b) => void (k === 'stderr' && err.add(b)) });
    await Promise.race([feed(run, archive), run.exitCode.then(() => undefined)]);
    const code = await withDeadline(run.exitCode, this.limits.exitGraceMs, () => new HullError('unavailable', `the guest did not finish the copy within ${this.limits.exitGraceMs} ms of its end`));
    if (code !== 0) throw invalid(`cannot copy: ${err.text() || `tar in the guest failed (exit ${code})`}`);
  }
}

/** The archive into the guest's stdin, a few chunks in flight at most; its end, the end of stdin. */
async function feed(run: AgentExecStream, archive: NodeJS.ReadableStream): Promise<void> {
  try {
    for await (const chunk of archive) {
      if (run.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string)) === false) await new Promise<void>((r) => run.onDrain(r));
    }
  } finally {
    // A broken archive ends stdin too: the guest's tar sees a short archive and fails.
    run.end();
  }
}

/** The guest's answer to `stat`: `dir|file|missing /resolved/path`, or `dangling` / `noparent`. */
export function parseProbe(raw: Buffer): { kind: 'dir' | 'file' | 'missing' | 'dangling' | 'noparent'; resolved: string } {
  const line = raw.toString('utf8').split('\n')[0];
  if (line === 'dangling' || line === 'noparent') return { kind: line, resolved: '' };
  const m = /^(dir|file|missing) (\/[^\0]*)$/.exec(line);
  if (!m || m[2].length > PATH_MAX) throw new HullError('internal', 'the guest answered the copy\'s probe with something it should not');
  return { kind: m[1] as 'dir' | 'file' | 'missing', resolved: m[2] };
}

function failure(code: number, path: string, stderr: string): HullError {
  if (code === 2) return notFound(`"${path}"`);
  if (code === 3) return invalid(`"${path}" is not a directory`);
  return new HullError('internal', `copying in the guest failed (exit ${code})${stderr ? `: ${stderr}` : ''}`);
}

const flag = (b: boolean) => (b ? '1' : '0');

/** The first `max` bytes of what comes; the rest is dropped. */
class Capped {
  private chunks: Buffer[] = [];
  private n = 0;
  constructor(private max: number) {}
  add(b: Buffer): void {
    if (this.n >= this.max) return;
    const part = b.subarray(0, this.max - this.n);
    this.chunks.push(part);
    this.n += part.length;
  }
  raw(): Buffer {
    return Buffer.concat(this.chunks);
  }
  /** As text for a message: control characters gone, whitespace folded. */
  text(): string {
    return this.raw().toString('utf8').replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/\s+/g, ' ').trim();
  }
}
