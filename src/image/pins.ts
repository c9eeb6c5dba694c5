/**
 * Pins: digests (blobs and layer diff_ids) that work in progress needs but no
 * stored image records yet: a pull's blobs before its image is saved, a
 * save's blobs while its tar streams out. Garbage collection (rmi, prune,
 * a failed pull's clean-up) never deletes a pinned digest. Counted, so two
 * pulls sharing a layer each hold it.
 *
 *   const release = pins.hold(['sha256:…']);  ...  release();
 */
export class Pins {
  private readonly counts = new Map<string, number>();

  /** Pin `digests`; the returned function releases exactly these pins, once. */
  hold(digests: string[]): () => void {
    for (const d of digests) this.counts.set(d, (this.counts.get(d) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const d of digests) {
        const n = (this.counts.get(d) ?? 1) - 1;
        if (n > 0) this.counts.set(d, n);
        else this.counts.delete(d);
      }
    };
  }

  has(digest: string): boolean {
    return this.counts.has(digest);
  }
}

/** A set of pins taken over time and released together. */
export class PinGroup {
  private readonly releases: Array<() => void> = [];
  constructor(private readonly pins: Pins) {}

  add(digests: string[]): void {
    this.releases.push(this.pins.hold(digests));
  }

  release(): void {
    for (const r of this.releases.splice(0)) r();
  }
}
