import { onEvent } from './events.js';
import type { HullEvent } from './types.js';

/**
 * What a page holds while it is shown (timers, streams, sockets, event
 * subscriptions); leaving the page disposes of all of it, so nothing keeps
 * running for a page no one sees.
 */
export class Scope {
  private disposers: Array<() => void> = [];
  private done = false;
  readonly abort = new AbortController();

  add(dispose: () => void): void {
    if (this.done) dispose();
    else this.disposers.push(dispose);
  }

  get disposed(): boolean {
    return this.done;
  }

  dispose(): void {
    this.done = true;
    this.abort.abort();
    for (const d of this.disposers.splice(0).reverse()) {
      try {
        d();
      } catch {
        // one failing disposer must not keep the others from running
      }
    }
  }

  interval(fn: () => void, ms: number): void {
    const t = setInterval(fn, ms);
    this.add(() => clearInterval(t));
  }

  /** Call `reload` (debounced 300 ms) after each event that `matches`. */
  live(matches: (ev: HullEvent) => boolean, reload: () => void): void {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = onEvent((ev) => {
      if (!matches(ev) || timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        if (!this.done) reload();
      }, 300);
    });
    this.add(() => {
      off();
      if (timer !== undefined) clearTimeout(timer);
    });
  }
}

/** Event matchers for the lists. */
export const ofType =
  (...types: string[]) =>
  (ev: HullEvent): boolean =>
    types.includes(ev.Type);
