import { HullError } from '../../core/errors.js';

interface Entry {
  done: Promise<boolean>;
  listeners: Set<(n: number) => void>;
  waiters: number;
  ctl: AbortController;
}

/**
 * SharedDownloads: one download per blob digest in the daemon, however many
 * pulls want it. Later callers wait on the first one's download and see its
 * byte counts. Cancelling is per caller: the download itself stops only when
 * every caller waiting on it has gone.
 *
 *   const created = await shared.run(digest, (onBytes, signal) => download(..., onBytes, signal), myBytes, mySignal);
 */
export class SharedDownloads {
  private readonly entries = new Map<string, Entry>();

  run(
    digest: string,
    start: (onBytes: (n: number) => void, signal: AbortSignal) => Promise<boolean>,
    onBytes: (n: number) => void,
    signal?: AbortSignal,
  ): Promise<boolean> {
    let e = this.entries.get(digest);
    if (!e) {
      const entry: Entry = { done: Promise.resolve(false), listeners: new Set(), waiters: 0, ctl: new AbortController() };
      entry.done = start((n) => entry.listeners.forEach((l) => l(n)), entry.ctl.signal).finally(() => this.entries.delete(digest));
      this.entries.set(digest, entry);
      e = entry;
    }
    return this.wait(e, onBytes, signal);
  }

  /** Whether a download of `digest` is in flight (for "Waiting" progress). */
  has(digest: string): boolean {
    return this.entries.has(digest);
  }

  private wait(e: Entry, onBytes: (n: number) => void, signal?: AbortSignal): Promise<boolean> {
    e.waiters++;
    e.listeners.add(onBytes);
    return new Promise<boolean>((resolve, reject) => {
      let gone = false;
      const leave = (): boolean => {
        if (gone) return false;
        gone = true;
        e.listeners.delete(onBytes);
        signal?.removeEventListener('abort', onAbort);
        e.waiters--;
        return true;
      };
      function onAbort() {
        if (!leave()) return;
        if (e.waiters === 0) e.ctl.abort();
        reject(new HullError('unavailable', 'cancelled'));
      }
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      e.done.then(
        (v) => leave() && resolve(v),
        (err: unknown) => leave() && reject(err),
      );
    });
  }
}
