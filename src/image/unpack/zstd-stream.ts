import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import { HullError } from '../../core/errors.js';

/** zstd's default decoder window cap (128 MiB) also bounds its memory; we keep it by not passing --long. */
const ZSTD_ARGS = ['-d', '-c', '-q', '--no-progress'];
const STDERR_MAX = 4096;

/**
 * ZstdDecompress: a Duplex that pipes compressed bytes through Debian's
 * `zstd -d -c`, since Node 20's zlib has no zstd. It keeps stream
 * backpressure end to end (stdout is paused while the reader is full, so
 * zstd blocks on its pipe and a decompression bomb is stopped by the
 * MeteredStream after it like any other). A missing binary is 'unavailable';
 * a corrupt stream (zstd exits non-zero) is 'invalid' with zstd's stderr.
 * Destroying the stream kills the child.
 *
 *   pipeline(createReadStream(blob), new ZstdDecompress(what), meter, extract)
 */
export class ZstdDecompress extends Duplex {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private stderr = '';

  constructor(private readonly what: string) {
    super();
    this.child = spawn('zstd', ZSTD_ARGS, { stdio: ['pipe', 'pipe', 'pipe'] });
    const { stdin, stdout, stderr } = this.child;
    // EPIPE when zstd quits early on bad input: the exit status explains it better, in onClose.
    stdin.on('error', () => undefined);
    stdout.on('data', (b: Buffer) => {
      if (!this.push(b)) stdout.pause();
    });
    stderr.on('data', (b: Buffer) => {
      if (this.stderr.length < STDERR_MAX) this.stderr += b.toString();
    });
    this.child.on('error', (e: NodeJS.ErrnoException) => this.destroy(this.spawnError(e)));
    this.child.on('close', (code, signal) => this.onClose(code, signal));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    // The callback fires once the pipe took the bytes, which is the backpressure; its error is reported on exit.
    if (this.child.stdin.destroyed) return cb();
    this.child.stdin.write(chunk, () => cb());
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.child.stdin.end();
    cb();
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    cb(err);
  }

  private onClose(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.destroyed) return;
    if (code === 0) {
      this.push(null);
      return;
    }
    const why = this.stderr.trim().split('\n').pop() || (signal ? `killed by ${signal}` : `exit status ${code}`);
    this.destroy(new HullError('invalid', `${this.what}: not a valid zstd stream (zstd: ${why})`));
  }

  private spawnError(e: NodeJS.ErrnoException): HullError {
    if (e.code === 'ENOENT') return new HullError('unavailable', `${this.what} is zstd-compressed, and zstd is not installed (install the Debian package "zstd")`);
    return new HullError('internal', `${this.what}: could not run zstd: ${e.message}`);
  }
}
