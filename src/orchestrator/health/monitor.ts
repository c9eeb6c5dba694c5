import { nextHealth, type HealthCheck, type HealthState } from '../../core/health.js';
import { runProbe, type Exec } from './probes.js';

export interface HealthTarget {
  id: string;
  check: HealthCheck;
  /** When the instance (last) started, ms. */
  startedAt: number;
  /** Its address for http/tcp probes. */
  address?: string;
  exec: Exec;
}

export interface HealthMonitorOptions {
  /** Store the new state; `changed` when the status moved (an event, a readiness change). */
  report(id: string, state: HealthState, changed: boolean): Promise<void>;
  onError?(id: string, err: unknown): void;
  now?: () => number;
}

/**
 * Runs each running instance's health check on its schedule: `startInterval`
 * while in its start period, `interval` after; one probe at a time per
 * instance; results go to `report` (the instance's record). Watching again
 * (a restart) starts over from `starting`.
 *
 *   monitor.watch({ id, check, startedAt, address, exec })   // at start, and at recovery
 *   monitor.unwatch(id)                                       // at exit or removal
 */
export class HealthMonitor {
  private watched = new Map<string, { t: HealthTarget; state: HealthState; timer?: NodeJS.Timeout; gen: number }>();
  private gen = 0;
  private readonly now: () => number;

  constructor(private o: HealthMonitorOptions) {
    this.now = o.now ?? Date.now;
  }

  watch(t: HealthTarget, state?: HealthState): HealthState {
    this.unwatch(t.id);
    const s = state ?? { status: 'starting' as const, failingStreak: 0, log: [], since: new Date(this.now()).toISOString() };
    const w = { t, state: s, gen: ++this.gen };
    this.watched.set(t.id, w);
    this.schedule(t.id, w.gen);
    return s;
  }

  unwatch(id: string): void {
    const w = this.watched.get(id);
    if (w?.timer) clearTimeout(w.timer);
    this.watched.delete(id);
  }

  state(id: string): HealthState | undefined {
    return this.watched.get(id)?.state;
  }

  close(): void {
    for (const id of [...this.watched.keys()]) this.unwatch(id);
  }

  private inStartPeriod(t: HealthTarget): boolean {
    return this.now() - t.startedAt < t.check.startPeriodMs;
  }

  private schedule(id: string, gen: number): void {
    const w = this.watched.get(id);
    if (!w || w.gen !== gen) return;
    const c = w.t.check;
    const wait = this.inStartPeriod(w.t) && w.state.status === 'starting' ? c.startIntervalMs : c.intervalMs;
    w.timer = setTimeout(() => void this.probe(id, gen), Math.max(100, wait));
    w.timer.unref();
  }

  private async probe(id: string, gen: number): Promise<void> {
    const w = this.watched.get(id);
    if (!w || w.gen !== gen) return;
    const start = new Date(this.now()).toISOString();
    const r = await runProbe(w.t.check.probe, { exec: w.t.exec, address: w.t.address, timeoutMs: w.t.check.timeoutMs });
    const cur = this.watched.get(id);
    if (!cur || cur.gen !== gen) return;
    const result = { start, end: new Date(this.now()).toISOString(), exitCode: r.exitCode, output: r.output };
    const next = nextHealth(cur.state, result, this.inStartPeriod(cur.t), cur.t.check.retries);
    const changed = next.status !== cur.state.status;
    cur.state = next;
    try {
      await this.o.report(id, next, changed);
    } catch (e) {
      this.o.onError?.(id, e);
    }
    this.schedule(id, gen);
  }
}
