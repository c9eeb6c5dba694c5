import { readFile } from 'node:fs/promises';
import type { Process } from '../driver.js';
import type { CgroupMode } from '../host.js';
import { cgroupPids } from './cgroups.js';

const CLK_TCK = 100;

/** The processes in a container's cgroup, read from /proc, as `ps` shows them. */
export async function topProcesses(mode: CgroupMode, cgroupsPath: string): Promise<Process[]> {
  const pids = await cgroupPids(mode, cgroupsPath);
  const out: Process[] = [];
  for (const pid of pids) {
    const [stat, cmdline, status] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''),
      readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''),
      readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''),
    ]);
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    const secs = Math.floor(ticks / CLK_TCK);
    const cpuTime = `${String(Math.floor(secs / 3600)).padStart(2, '0')}:${String(Math.floor(secs / 60) % 60).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}`;
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1] ?? '?';
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const command = cmdline ? cmdline.replace(/\0+$/, '').split('\0').join(' ') : `[${comm}]`;
    out.push({ pid, user: uid === '0' ? 'root' : uid, cpuTime, command });
  }
  return out;
}
