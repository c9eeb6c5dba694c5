/**
 * Reverter collects undo steps while a multi-step operation runs. If the
 * operation fails, `revert()` runs them in reverse order so nothing half-made
 * is left; if it succeeds, `success()` drops them. After Incus' revert package.
 *
 *   const r = new Reverter();
 *   try {
 *     await mkdir(dir); r.add(() => rm(dir));
 *     await mountRootfs(); r.add(() => umount());
 *     r.success();
 *   } finally { await r.revert(); }
 */
export class Reverter {
  private steps: Array<() => unknown> = [];
  private done = false;

  add(undo: () => unknown): void {
    this.steps.push(undo);
  }

  success(): void {
    this.done = true;
    this.steps = [];
  }

  async revert(): Promise<void> {
    if (this.done) return;
    const steps = this.steps.reverse();
    this.steps = [];
    for (const undo of steps) {
      try {
        await undo();
      } catch {
        // Undo is best effort: keep undoing the rest.
      }
    }
  }
}
