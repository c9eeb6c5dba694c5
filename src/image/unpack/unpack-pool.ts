import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type ErrorCode, HullError } from '../../core/errors.js';
import { type UnpackJob, unpackLayer } from './unpack-layer.js';

const WORKER = new URL('./unpack-worker.js', import.meta.url);
/** A worker with nothing to do for this long exits (it is started again when needed). */
const IDLE_MS = 30_000;

interface Task {
  job: UnpackJob;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * UnpackPool: layers are unpacked on worker threads, so that gunzip's
 * callbacks, the diff_id hash, tar parsing and the file writes of several
 * layers run beside the daemon's main thread (which is busy downloading and
 * hashing blobs during a pull) instead of on it. Up to one worker per CPU,
 * at most 4; idle workers exit. Where the compiled worker is absent (the
 * tests run the TypeScript sources) layers are unpacked in-process.
 *
 *   await unpackPool().run({ blob, dir, digest, diffId, maxBytes });
 */
export class UnpackPool {
  private readonly idle: Worker[] = [];
  private readonly queue: Task[] = [];
  private running = 0;

  constructor(private readonly size: number) {}

  run(job: UnpackJob): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && (this.idle.length > 0 || this.running < this.size)) {
      const task = this.queue.shift()!;
      const w = this.idle.pop() ?? this.spawn();
      this.running++;
      this.dispatch(w, task);
    }
  }

  private spawn(): Worker {
    const w = new Worker(WORKER);
    // A worker that dies while parked is simply dropped; one that dies on a job fails that job (dispatch).
    w.on('error', () => undefined);
    w.on('exit', () => {
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
    });
    return w;
  }

  private dispatch(w: Worker, task: Task): void {
    w.ref();
    const idleTimer = (w as Worker & { idleTimer?: NodeJS.Timeout }).idleTimer;
    if (idleTimer) clearTimeout(idleTimer);
    const done = (ok: boolean) => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      this.running--;
      if (ok) this.park(w);
      this.pump();
    };
    const onMessage = (m: { ok: boolean; code?: ErrorCode; message?: string }) => {
      done(true);
      if (m.ok) task.resolve();
      else task.reject(new HullError(m.code ?? 'internal', m.message ?? 'unpack failed'));
    };
    const onError = (e: Error) => {
      done(false);
      void w.terminate();
      task.reject(new HullError('internal', `layer ${task.job.digest}: unpack worker failed: ${e.message}`));
    };
    const onExit = (code: number) => onError(new Error(`exited with code ${code}`));
    w.on('message', onMessage);
    w.once('error', onError);
    w.once('exit', onExit);
    w.postMessage(task.job);
  }

  /** Keep a finished worker for the next job, without holding the process open; let it go when idle long enough. */
  private park(w: Worker): void {
    w.unref();
    this.idle.push(w);
    const t = setTimeout(() => {
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
      void w.terminate();
    }, IDLE_MS);
    t.unref();
    (w as Worker & { idleTimer?: NodeJS.Timeout }).idleTimer = t;
  }
}

let pool: UnpackPool | undefined;
const compiled = existsSync(fileURLToPath(WORKER));

/** Unpack on the shared pool, or in-process when running from the TypeScript sources. */
export function unpack(job: UnpackJob): Promise<void> {
  if (!compiled) return unpackLayer(job);
  pool ??= new UnpackPool(Math.max(1, Math.min(4, availableParallelism())));
  return pool.run(job);
}
