import { getJson, enc } from '../api.js';
import { fill, h } from '../dom.js';
import { bytes } from '../format.js';
import type { Scope } from '../scope.js';
import type { Stats } from '../types.js';

/**
 * Resource use, sampled every 3 s (GET …/stats is one cgroup read): CPU as
 * a share of one core between two samples, memory, processes.
 * Hooks: data-testid="stats", "stat-cpu", "stat-memory", "stat-pids".
 */
export function statsPanel(scope: Scope, ref: string): HTMLElement {
  const body = h('dl', { class: 'facts', testid: 'stats' });
  let prev: Stats | undefined;
  const sample = async (): Promise<void> => {
    const s = await getJson<Stats>(`/v1/containers/${enc(ref)}/stats`).catch(() => undefined);
    if (!s || scope.disposed) return;
    fill(body, ...row('CPU', 'stat-cpu', cpu(prev, s)), ...row('Memory', 'stat-memory', memory(s)), ...row('Processes', 'stat-pids', s.pidsLimit > 0 ? `${s.pids} / ${s.pidsLimit}` : String(s.pids)));
    prev = s;
  };
  void sample();
  scope.interval(() => void sample(), 3000);
  return h('section', { class: 'panel' }, h('h2', {}, 'Resources'), body);
}

const row = (label: string, testid: string, value: string): HTMLElement[] => [h('dt', {}, label), h('dd', { testid }, value)];

function cpu(prev: Stats | undefined, s: Stats): string {
  if (!prev) return '…';
  const wall = Date.parse(s.read) - Date.parse(prev.read);
  if (!(wall > 0)) return '…';
  return `${((s.cpuUsageNs - prev.cpuUsageNs) / 1e6 / wall * 100).toFixed(1)} %`;
}

const memory = (s: Stats): string => `${bytes(s.memoryUsage)}${s.memoryLimit > 0 ? ` / ${bytes(s.memoryLimit)}` : ''}${s.memoryCounted === 'qemu-rss' ? ' (QEMU resident)' : ''}`;
