import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupMode } from '../host.js';

/**
 * Read a container's resource use from its cgroup, on cgroup v2 and v1
 * (hybrid hosts use the v1 controllers). `path` is the container's
 * linux.cgroupsPath, e.g. /hull/<id>.
 */
export interface CgroupStats {
  memoryUsage: number;
  memoryLimit: number; // 0 = unlimited
  cpuUsageNs: number;
  pids: number;
  pidsLimit: number; // 0 = unlimited
}

const ROOT = '/sys/fs/cgroup';
const UNLIMITED_V1 = 0x7ffffffffffff000;

async function num(file: string): Promise<number> {
  const s = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (!s || s === 'max') return 0;
  const n = Number(s);
  return Number.isFinite(n) && n < UNLIMITED_V1 ? n : 0;
}

async function keyed(file: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const s = await readFile(file, 'utf8').catch(() => '');
  for (const line of s.split('\n')) {
    const [k, v] = line.split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

export function cgroupDir(mode: CgroupMode, path: string, controller: string): string {
  return mode === 'v2' ? join(ROOT, path) : join(ROOT, controller, path);
}

export async function readStats(mode: CgroupMode, path: string): Promise<CgroupStats> {
  if (mode === 'v2') {
    const dir = join(ROOT, path);
    const [cur, max, stat, cpu, pids, pidsMax] = await Promise.all([
      num(join(dir, 'memory.current')),
      num(join(dir, 'memory.max')),
      keyed(join(dir, 'memory.stat')),
      keyed(join(dir, 'cpu.stat')),
      num(join(dir, 'pids.current')),
      num(join(dir, 'pids.max')),
    ]);
    return {
      memoryUsage: Math.max(0, cur - (stat.inactive_file ?? 0)),
      memoryLimit: max,
      cpuUsageNs: (cpu.usage_usec ?? 0) * 1000,
      pids,
      pidsLimit: pidsMax,
    };
  }
  const mem = (f: string) => join(ROOT, 'memory', path, f);
  const [usage, limit, stat, cpuNs, pids, pidsMax] = await Promise.all([
    num(mem('memory.usage_in_bytes')),
    num(mem('memory.limit_in_bytes')),
    keyed(mem('memory.stat')),
    num(join(ROOT, 'cpuacct', path, 'cpuacct.usage')),
    num(join(ROOT, 'pids', path, 'pids.current')),
    num(join(ROOT, 'pids', path, 'pids.max')),
  ]);
  return {
    memoryUsage: Math.max(0, usage - (stat.total_inactive_file ?? 0)),
    memoryLimit: limit,
    cpuUsageNs: cpuNs,
    pids,
    pidsLimit: pidsMax,
  };
}

/** How many times the kernel's OOM killer fired in this cgroup. */
export async function oomKills(mode: CgroupMode, path: string): Promise<number> {
  const file = mode === 'v2' ? join(ROOT, path, 'memory.events') : join(ROOT, 'memory', path, 'memory.oom_control');
  const k = await keyed(file);
  return k.oom_kill ?? 0;
}

/** The pids in the container's cgroup (for `top`). */
export async function cgroupPids(mode: CgroupMode, path: string): Promise<number[]> {
  const file = mode === 'v2' ? join(ROOT, path, 'cgroup.procs') : join(ROOT, 'pids', path, 'cgroup.procs');
  const s = await readFile(file, 'utf8').catch(() => '');
  return s
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => a - b);
}
