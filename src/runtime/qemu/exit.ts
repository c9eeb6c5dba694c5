import { link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExitStatus } from '../driver.js';
import type { VmFiles } from './files.js';

/**
 * How a VM's run ended. The first report wins (exit.json is made with
 * link(2), which fails if it exists): Hull's own forced stop writes 137
 * before it quits QEMU, so QEMU's later "host-qmp-quit" cannot overwrite it.
 * The code is then also written to <exitDir>/<id>, the directory the engine
 * watches for container exits, so a VM's exit reaches the engine the same way.
 */
export interface VmExit {
  exitCode: number;
  reason: string;
  finishedAt: string;
}

/** QEMU's SHUTDOWN reasons, as exit codes. */
export function exitCodeFor(reason: string): number {
  if (reason === 'guest-shutdown') return 0;
  if (reason === 'guest-panic') return 1;
  if (reason === 'host-signal') return 143;
  if (reason === 'host-qmp-quit') return 137;
  return 255;
}

export async function recordExit(files: VmFiles, exitDir: string, id: string, code: number, reason: string): Promise<boolean> {
  const tmp = `${files.exit}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const ex: VmExit = { exitCode: code, reason, finishedAt: new Date().toISOString() };
  try {
    await writeFile(tmp, JSON.stringify(ex));
    await link(tmp, files.exit);
  } catch {
    return false; // already recorded, or the VM's directory is gone
  } finally {
    await rm(tmp, { force: true });
  }
  await mkdir(exitDir, { recursive: true });
  await writeFile(join(exitDir, id), String(code));
  return true;
}

export async function readExit(files: VmFiles): Promise<VmExit | undefined> {
  try {
    return JSON.parse(await readFile(files.exit, 'utf8')) as VmExit;
  } catch {
    return undefined;
  }
}

export function asExitStatus(ex: VmExit): ExitStatus {
  return { exitCode: ex.exitCode, oomKilled: false, finishedAt: ex.finishedAt };
}

export async function clearExit(files: VmFiles, exitDir: string, id: string): Promise<void> {
  await Promise.all([rm(files.exit, { force: true }), rm(join(exitDir, id), { force: true })]);
}

export const exists = (p: string) => stat(p).then(() => true, () => false);
