import type { HealthCheck, HealthState } from '../../../core/health.js';
import { DockerError } from '../errors.js';

/**
 * docker's HealthConfig (`HEALTHCHECK` in an image, `--health-*`, compose's
 * `healthcheck:`) and Hull's health check (core/health.ts), both ways.
 * docker's times are nanoseconds and 0 means "inherit" (the image's, else
 * docker's default); `Test: []` keeps the image's test with the times given,
 * `["NONE"]` turns the image's off.
 */
export interface DockerHealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
  StartInterval?: number;
}

const DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0, startIntervalMs: 5000 };
/** Hull's probes run at most every 100 ms (a tighter loop would be the daemon's own load). */
const MIN_MS = 100;

/** The check a container gets: `none` turns the image's off, undefined leaves the image's as it is. */
export function healthFromDocker(asked: DockerHealthConfig | undefined, image: DockerHealthConfig | undefined, warnings: string[] = [], o: { startIntervalKnown: boolean } = { startIntervalKnown: true }): HealthCheck | 'none' | undefined {
  const test = asked?.Test ?? [];
  if (test[0] === 'NONE') return 'none';
  const timesGiven = !!(asked?.Interval || asked?.Timeout || asked?.Retries || asked?.StartPeriod || asked?.StartInterval);
  if (!test.length && !timesGiven) return undefined;
  const exec = probeOf(test.length ? test : (image?.Test ?? []));
  if (!exec) {
    if (test.length) throw new DockerError(400, `invalid Healthcheck.Test ${JSON.stringify(test).slice(0, 100)}: use ["CMD", …], ["CMD-SHELL", "…"] or ["NONE"]`);
    return undefined; // times for an image without a test: docker runs nothing either
  }
  const ms = (k: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval', dflt: number, min = MIN_MS) => {
    const ns = asked?.[k] || image?.[k] || 0;
    if (ns < 0 || (ns > 0 && ns < 1e6)) throw new DockerError(400, `${k} in Healthcheck cannot be less than 1ms`);
    if (!ns) return dflt;
    const v = Math.round(ns / 1e6);
    if (v < min) warnings.push(`Hull runs health checks at least ${min} ms apart: ${k} ${v} ms is ${min} ms`);
    return Math.max(v, min);
  };
  const retries = asked?.Retries || image?.Retries || DEFAULTS.retries;
  if (retries < 0) throw new DockerError(400, 'Retries in Healthcheck cannot be negative');
  const intervalMs = ms('Interval', DEFAULTS.intervalMs);
  return {
    probe: { exec },
    intervalMs,
    timeoutMs: ms('Timeout', DEFAULTS.timeoutMs),
    retries,
    startPeriodMs: ms('StartPeriod', DEFAULTS.startPeriodMs, 0),
    // Clients before API 1.44 know no start interval: their start period is probed at the interval, as their dockerd did.
    startIntervalMs: ms('StartInterval', o.startIntervalKnown ? DEFAULTS.startIntervalMs : intervalMs),
  };
}

/** `["CMD", argv…]` runs argv; `["CMD-SHELL", cmd]` runs it with the shell, as docker's default one. */
function probeOf(test: string[]): string[] | undefined {
  if (test[0] === 'CMD' && test.length > 1) return test.slice(1);
  if (test[0] === 'CMD-SHELL' && test.length > 1) return ['/bin/sh', '-c', test.slice(1).join(' ')];
  return undefined;
}

/** Hull's check as docker's Config.Healthcheck (inspect). Host-side probes (services' http/tcp) have no docker form. */
export function dockerHealthConfig(h: HealthCheck | undefined): DockerHealthConfig | undefined {
  if (!h || !('exec' in h.probe)) return undefined;
  const e = h.probe.exec;
  const test = e.length === 3 && e[0] === '/bin/sh' && e[1] === '-c' ? ['CMD-SHELL', e[2]] : ['CMD', ...e];
  const ns = (ms: number) => ms * 1e6;
  return { Test: test, Interval: ns(h.intervalMs), Timeout: ns(h.timeoutMs), Retries: h.retries, StartPeriod: ns(h.startPeriodMs), StartInterval: ns(h.startIntervalMs) };
}

/** docker's State.Health. */
export function dockerHealthState(s: HealthState | undefined) {
  if (!s) return undefined;
  return { Status: s.status, FailingStreak: s.failingStreak, Log: s.log.map((r) => ({ Start: r.start, End: r.end, ExitCode: r.exitCode, Output: r.output })) };
}
