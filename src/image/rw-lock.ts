/**
 * A first-come, first-served readers/writer lock for one process. The image
 * service takes it shared to unpack layers for containers and exclusively to
 * import or remove, because those two decide which blobs and layers are
 * garbage and must not race each other or an unpack of what they delete.
 */
export class RwLock {
  private readers = 0;
  private writer = false;
  private readonly queue: Array<{ write: boolean; go: () => void }> = [];

  shared<T>(fn: () => Promise<T>): Promise<T> {
    return this.with(false, fn);
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.with(true, fn);
  }

  private async with<T>(write: boolean, fn: () => Promise<T>): Promise<T> {
    await new Promise<void>((go) => {
      this.queue.push({ write, go });
      this.pump();
    });
    try {
      return await fn();
    } finally {
      if (write) this.writer = false;
      else this.readers--;
      this.pump();
    }
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (this.writer || (next.write && this.readers > 0)) return;
      this.queue.shift();
      if (next.write) this.writer = true;
      else this.readers++;
      next.go();
      if (next.write) return;
    }
  }
}
