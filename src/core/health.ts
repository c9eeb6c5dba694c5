/**
 * Health checks, as docker has them (HEALTHCHECK in an image, --health-*
 * flags, a Compose healthcheck) plus the host-side probes Kubernetes has
 * (http and tcp to the instance's address). One implementation serves plain
 * containers, VMs and services' replicas (orchestrator/health/).
 *
 *   starting ──probe ok──▶ healthy ──`retries` failures in a row──▶ unhealthy ──probe ok──▶ healthy
 *   failures during `startPeriod` do not count; a success there ends it.
 */

/** exec inside the instance (docker's CMD / CMD-SHELL), or http/tcp from the host side to its address. */
export type HealthProbe = { exec: string[] } | { http: { port: number; path: string } } | { tcp: { port: number } };

export interface HealthCheck {
  probe: HealthProbe;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
  startIntervalMs: number;
}

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthResult {
  start: string;
  end: string;
  exitCode: number;
  output: string;
}

/** As docker's State.Health: the status, the current run of failures, the last five results. */
export interface HealthState {
  status: HealthStatus;
  failingStreak: number;
  log: HealthResult[];
  /** When the status last changed (readiness is measured from it). */
  since: string;
}

export const HEALTH_LOG_KEEP = 5;
/** docker keeps at most 4 KiB of a probe's output. */
export const HEALTH_OUTPUT_MAX = 4096;

/** The next state after one probe result (pure). */
export function nextHealth(cur: HealthState, r: HealthResult, inStartPeriod: boolean, retries: number): HealthState {
  const log = [...cur.log, r].slice(-HEALTH_LOG_KEEP);
  if (r.exitCode === 0) return { status: 'healthy', failingStreak: 0, log, since: cur.status === 'healthy' ? cur.since : r.end };
  if (inStartPeriod && cur.status === 'starting') return { ...cur, log };
  const failingStreak = cur.failingStreak + 1;
  const status = failingStreak >= retries ? 'unhealthy' : cur.status;
  return { status, failingStreak, log, since: status === cur.status ? cur.since : r.end };
}
