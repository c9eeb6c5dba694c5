import type { Autoscale } from '../../core/service.js';

/** Kubernetes' tolerance: a ratio within 10% of 1 changes nothing. */
export const TOLERANCE = 0.1;

export interface ScaleInput {
  current: number;
  /** CPU use of each ready replica, in percent of its limit (of one CPU without a limit), over the last sample. */
  usage: number[];
  policy: Autoscale;
  /** Recent recommendations, for scale-down stabilization (ms, replicas). */
  history: Array<{ at: number; replicas: number }>;
  now: number;
}

export interface ScaleDecision {
  replicas: number;
  /** The raw recommendation now, to keep in the history. */
  recommended: number;
  reason: string;
}

/**
 * Kubernetes' rule: desired = ceil(current × used / target), nothing when
 * within the tolerance, clamped to [min, max]; scale up at once, scale down
 * only to the highest recommendation of the stabilization window (so a short
 * dip does not flap replicas away).
 */
export function decideScale(s: ScaleInput): ScaleDecision {
  const { policy: p, current } = s;
  const clamp = (n: number) => Math.min(p.max, Math.max(p.min, n));
  if (!s.usage.length) return { replicas: clamp(current), recommended: clamp(current), reason: 'no ready replica to measure' };
  const used = s.usage.reduce((a, b) => a + b, 0) / s.usage.length;
  const ratio = used / p.targetCpuPercent;
  const figures = `cpu ${used.toFixed(0)}% of a ${p.targetCpuPercent}% target over ${s.usage.length} replica${s.usage.length === 1 ? '' : 's'}`;
  const recommended = clamp(Math.abs(ratio - 1) <= TOLERANCE ? current : Math.ceil(current * ratio));
  if (recommended > current) return { replicas: recommended, recommended, reason: `${figures}: ${current} → ${recommended}` };
  const windowStart = s.now - p.scaleDownWindowMs;
  const held = Math.max(recommended, ...s.history.filter((h) => h.at >= windowStart).map((h) => h.replicas));
  const replicas = Math.min(current, held);
  if (replicas < current) return { replicas, recommended, reason: `${figures}: ${current} → ${replicas} (lowest in the ${Math.round(p.scaleDownWindowMs / 1000)}s window)` };
  return { replicas: clamp(current), recommended, reason: recommended < current ? `${figures}: would be ${recommended}, held by the stabilization window` : figures };
}
