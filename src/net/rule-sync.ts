import { applyRules, type RuleModel } from './nft.js';

/**
 * Serialises rule rewrites and coalesces bursts: a sync asked for while one
 * runs waits for the next one, which reads the records after every change
 * made so far. Fifty containers starting at once cost a few `nft` runs, and
 * no older picture of the rules can ever land after a newer one.
 */
export class RuleSync {
  private tail: Promise<void> = Promise.resolve();
  private queued?: Promise<void>;

  constructor(private model: () => Promise<RuleModel>) {}

  sync(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.tail
      .catch(() => undefined)
      .then(async () => {
        this.queued = undefined;
        await applyRules(await this.model());
      });
    this.queued = next;
    this.tail = next;
    return next;
  }

  /** Resolves once no sync is running or queued. */
  async idle(): Promise<void> {
    await this.tail.catch(() => undefined);
  }
}
