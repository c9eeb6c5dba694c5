import { readFile } from 'node:fs/promises';
import { expect } from 'vitest';
import { isHullError } from '../../core/errors.js';
import type { DriverCase } from './case.js';
import { collect, execOut, exited, waitFor } from './helpers.js';

/** Looking into a running instance: exec, stats, its monitor, and (last, as it may end the shared instance) attach. */
export const ioCases: DriverCase[] = [
  {
    title: 'exec: its output on stdout and stderr, and its exit code',
    starts: 0,
    async run(k) {
      const inst = await k.shared();
      expect(await execOut(k.d, inst, ['sh', '-c', 'echo drv-exec-out; echo drv-exec-err >&2; exit 3'])).toEqual({ code: 3, stdout: 'drv-exec-out\n', stderr: 'drv-exec-err\n' });
      expect(await execOut(k.d, inst, ['true'])).toEqual({ code: 0, stdout: '', stderr: '' });
    },
  },
  {
    title: 'exec of a missing command: command_not_found, or exit 127',
    starts: 0,
    async run(k) {
      const inst = await k.shared();
      const r = await execOut(k.d, inst, ['/no/such/command']).catch((e: unknown) => e);
      if (isHullError(r)) expect(r.code, r.message).toBe('command_not_found');
      else expect((r as { code: number }).code).toBe(127);
      // The instance is none the worse for it.
      expect((await execOut(k.d, inst, ['echo', 'still-here'])).stdout).toBe('still-here\n');
    },
  },
  {
    title: 'stats while running: memory used, a limit, CPU time that grows, at least one process',
    starts: 0,
    async run(k) {
      const inst = await k.shared();
      const a = await k.d.stats(inst);
      expect(a.memoryUsage).toBeGreaterThan(0);
      expect(a.memoryLimit).toBeGreaterThan(0);
      expect(a.pids).toBeGreaterThanOrEqual(1);
      expect(a.pidsLimit).toBeGreaterThanOrEqual(0);
      expect(a.cpuUsageNs).toBeGreaterThan(0);
      // Some work inside: its CPU time shows.
      await execOut(k.d, inst, ['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done']);
      const b = await k.d.stats(inst);
      expect(b.cpuUsageNs).toBeGreaterThan(a.cpuUsageNs);
    },
  },
  {
    title: 'stats: the memory used is within the limit',
    starts: 0,
    async run(k) {
      const inst = await k.shared();
      const s = await k.d.stats(inst);
      expect(s.memoryUsage).toBeLessThanOrEqual(s.memoryLimit);
    },
  },
  {
    title: 'monitorAlive while running',
    starts: 0,
    async run(k) {
      const inst = await k.shared();
      expect(await k.d.monitorAlive(inst)).toBe(true);
      expect(await k.d.exitStatus(inst)).toBeUndefined();
    },
  },
  {
    title: "attach: what is written to stdin reaches the program, its output comes back",
    starts: 0,
    async run(k) {
      const inst = await k.shared();
      const s = await k.d.attach(inst);
      try {
        const out = collect(s);
        // A shell runs the line; only its output (not an echo of the input) says drv42suite.
        s.write(Buffer.from('\necho drv$((6*7))suite\n'));
        await waitFor(async () => out().includes('drv42suite'), 30_000, 'the output of what was written');
      } finally {
        s.close();
      }
    },
  },
  {
    title: 'closeStdin is the end of the input: a shell reading it exits 0 once it has run what came before',
    starts: 1,
    async run(k) {
      const inst = await k.started({ kind: 'shell' });
      const s = await k.d.attach(inst);
      try {
        s.write(Buffer.from('echo before-eof\n'));
        s.closeStdin();
        const ex = await exited(k.d, inst, k.bootMs);
        expect(ex.exitCode).toBe(0);
        expect(await readFile(k.d.logPath(inst), 'utf8')).toContain('before-eof');
      } finally {
        s.close();
      }
    },
  },
];
