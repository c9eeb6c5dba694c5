import type { Instance, RestartPolicySpec } from '../../core/instance.js';

/** docker's back-off for --restart: 100 ms doubling up to a minute, a run of 10 s starting over. */
export const DOCKER_BACKOFF = { delayMs: 100, maxDelayMs: 60_000, windowMs: 10_000 };

export type RestartDecision = { restart: false } | { restart: true; delayMs: number; streak: number };

/**
 * Whether an exited instance is started again, and after how long (pure).
 * The back-off doubles per failed run in a row; a run that lasted the
 * policy's window counts as good and starts the count over.
 */
export function restartDecision(inst: Instance): RestartDecision {
  const s = inst.state;
  const p: RestartPolicySpec = inst.config.restartPolicy;
  if (inst.config.autoRemove || s.stoppedByUser) return { restart: false };
  const wanted = p.name === 'always' || p.name === 'unless-stopped' || (p.name === 'on-failure' && s.exitCode !== 0 && (!p.maxRetries || s.restartCount < p.maxRetries));
  if (!wanted) return { restart: false };
  const delayMs = p.delayMs ?? DOCKER_BACKOFF.delayMs;
  const maxDelayMs = Math.max(delayMs, p.maxDelayMs ?? DOCKER_BACKOFF.maxDelayMs);
  const windowMs = p.windowMs ?? DOCKER_BACKOFF.windowMs;
  const ran = Date.parse(s.finishedAt) - Date.parse(s.startedAt);
  const streak = Number.isFinite(ran) && ran >= windowMs ? 1 : (s.restartStreak ?? 0) + 1;
  // A zero first delay restarts at once the first time; a crash loop still backs off (from 1 s) after that.
  const base = streak === 1 ? delayMs : (delayMs || 1000) * 2 ** Math.min(streak - 1, 30);
  return { restart: true, delayMs: Math.min(maxDelayMs, base), streak };
}

/**
 * The timers of instances waiting out their back-off. The decision and the
 * time of the next attempt are recorded on the instance (`nextRestartAt`), so
 * `ps` can show it and a restarted daemon picks the timer up again.
 */
export class RestartTimers {
  private timers = new Map<string, NodeJS.Timeout>();

  constructor(private fire: (id: string) => void) {}

  at(id: string, when: number): void {
    this.cancel(id);
    const t = setTimeout(
      () => {
        this.timers.delete(id);
        this.fire(id);
      },
      Math.max(0, when - Date.now()),
    );
    t.unref();
    this.timers.set(id, t);
  }

  cancel(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
