import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A VM's QEMU process in a cgroup of its own, with the VM's limits: memory
 * (guest memory plus QEMU's own overhead) and CPU (--cpus as a CFS quota).
 * v2: /sys/fs/cgroup/hull/<id>; v1 and hybrid: /sys/fs/cgroup/{memory,cpu}/hull/<id>.
 * Made at each launch (the pid moves in), removed at rm.
 */
const ROOT = '/sys/fs/cgroup';
const PERIOD_US = 100_000;

/** QEMU's own memory beside the guest's: device emulation, TCG's code cache, page tables. */
export const vmCgroupMemory = (memoryBytes: number): number => memoryBytes + 256 * 1024 * 1024 + Math.ceil(memoryBytes / 8);

export interface VmCgroup {
  mode: 'v1' | 'v2';
  /** One directory per controller (one on v2). */
  dirs: string[];
  memoryLimit: number;
  cpuQuotaUs: number;
  cpuPeriodUs: number;
}

const isV2 = () => existsSync(join(ROOT, 'cgroup.controllers'));

export function vmCgroupDirs(id: string): string[] {
  return isV2() ? [join(ROOT, 'hull', id)] : [join(ROOT, 'memory', 'hull', id), join(ROOT, 'cpu', 'hull', id)];
}

/** Make the cgroup with its limits and move `pid` (all its threads) into it. */
export async function placeVm(id: string, pid: number, memoryBytes: number, cpus: number): Promise<VmCgroup> {
  const memoryLimit = vmCgroupMemory(memoryBytes);
  const cpuQuotaUs = Math.max(1000, Math.round(cpus * PERIOD_US));
  if (isV2()) {
    const parent = join(ROOT, 'hull');
    await mkdir(parent, { recursive: true });
    await enable(join(ROOT, 'cgroup.subtree_control'));
    await enable(join(parent, 'cgroup.subtree_control'));
    const dir = join(parent, id);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'memory.max'), String(memoryLimit));
    await writeFile(join(dir, 'cpu.max'), `${cpuQuotaUs} ${PERIOD_US}`);
    await writeFile(join(dir, 'cgroup.procs'), String(pid));
    return { mode: 'v2', dirs: [dir], memoryLimit, cpuQuotaUs, cpuPeriodUs: PERIOD_US };
  }
  const [mem, cpu] = vmCgroupDirs(id);
  await mkdir(mem, { recursive: true });
  await mkdir(cpu, { recursive: true });
  await writeFile(join(mem, 'memory.limit_in_bytes'), String(memoryLimit));
  await writeFile(join(cpu, 'cpu.cfs_period_us'), String(PERIOD_US));
  await writeFile(join(cpu, 'cpu.cfs_quota_us'), String(cpuQuotaUs));
  await writeFile(join(mem, 'cgroup.procs'), String(pid));
  await writeFile(join(cpu, 'cgroup.procs'), String(pid));
  return { mode: 'v1', dirs: [mem, cpu], memoryLimit, cpuQuotaUs, cpuPeriodUs: PERIOD_US };
}

/** +memory +cpu for the children (already on: nothing to do). */
async function enable(subtreeControl: string): Promise<void> {
  const on = (await readFile(subtreeControl, 'utf8').catch(() => '')).split(/\s+/);
  const missing = ['memory', 'cpu'].filter((c) => !on.includes(c));
  if (missing.length) await writeFile(subtreeControl, missing.map((c) => `+${c}`).join(' '));
}

/** At rm, once QEMU is gone; a cgroup that never was is fine. */
export async function removeVmCgroup(id: string): Promise<void> {
  for (const dir of vmCgroupDirs(id)) {
    for (let i = 0; i < 20; i++) {
      try {
        await rmdir(dir);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || i === 19) throw e;
        await new Promise((r) => setTimeout(r, 50)); // the last thread is still on its way out
      }
    }
  }
}
