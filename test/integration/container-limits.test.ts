import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, waitFor } from '../helpers/hull.js';
import { run } from '../../src/sys/run.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.destroy();
});

const state = (name: string, field: string) => d.state(name, field);

describe('resource limits, enforced by the kernel', () => {
  it('a memory hog is OOM-killed: exit 137 and inspect shows OOMKilled', async () => {
    const r = await d.hull(['run', '--name', 'hog', '-m', '32m', 'busybox', 'sh', '-c', 'tail /dev/zero']);
    expect(r.code).toBe(137);
    expect(await state('hog', 'OOMKilled')).toBe('true');
    expect(await state('hog', 'ExitCode')).toBe('137');
    await d.ok(['rm', 'hog']);
  });

  it('a fork loop stops at the pids limit and the host is untouched', async () => {
    // Each iteration leaves a sleeping child behind; the limit stops them at 20 processes.
    // The count uses only shell built-ins: at the limit, nothing more can fork.
    const r = await d.hull(['run', '--rm', '--pids-limit', '20', 'busybox', 'sh', '-c', '(i=0; while [ $i -lt 200 ]; do sleep 31337 & i=$((i+1)); done) 2>/dev/null; echo started; set -- /proc/[0-9]*; echo $#']);
    expect(r.stdout).toMatch(/started/);
    const inside = Number(r.stdout.trim().split('\n').pop());
    expect(inside).toBeLessThanOrEqual(20);
    expect(inside).toBeGreaterThan(5);
    // The container's processes died with it: none of its sleepers is left on the host.
    const left = await run(['pgrep', '-f', 'sleep 31337'], { allowFailure: true });
    expect(left.stdout.trim()).toBe('');
  });

  it('--cpus 0.5 holds a busy loop near half a core', async () => {
    await d.ok(['run', '-d', '--name', 'spin', '--cpus', '0.5', 'busybox', 'sh', '-c', 'while :; do :; done']);
    await new Promise((r) => setTimeout(r, 500));
    const s1 = JSON.parse(await d.ok(['stats', '--no-stream', '--format', 'json', 'spin']))[0];
    const t1 = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    const s2 = JSON.parse(await d.ok(['stats', '--no-stream', '--format', 'json', 'spin']))[0];
    const cores = (s2.cpuUsageNs - s1.cpuUsageNs) / ((Date.now() - t1) * 1e6);
    expect(cores).toBeGreaterThan(0.3);
    expect(cores).toBeLessThan(0.65);
    await d.ok(['rm', '-f', 'spin']);
  });

  it('secure defaults: capabilities, seccomp, masked paths, no-new-privileges', async () => {
    const st = await d.ok(['run', '--rm', '--security-opt', 'no-new-privileges', 'busybox', 'cat', '/proc/self/status']);
    expect(st).toMatch(/CapEff:\s+00000000800405fb/);
    expect(st).toMatch(/Seccomp:\s+2/);
    expect(st).toMatch(/NoNewPrivs:\s+1/);
    const mnt = await d.hull(['run', '--rm', 'busybox', 'mount', '-t', 'tmpfs', 'x', '/mnt']);
    expect(mnt.code).not.toBe(0);
    expect((await d.ok(['run', '--rm', 'busybox', 'sh', '-c', 'wc -c < /proc/timer_list'])).trim()).toBe('0');
    const sys = await d.hull(['run', '--rm', 'busybox', 'sh', '-c', 'echo 1 > /proc/sys/kernel/panic']);
    expect(sys.code).not.toBe(0);
    // Later crun containers reuse the filter crun compiled for the first one: it must still bite.
    expect((await readdir(join(d.root, 'runtime', 'seccomp-cache'))).some((f) => f.endsWith('.bpf'))).toBe(true);
    const again = await d.hull(['run', '--rm', 'busybox', 'sh', '-c', 'grep Seccomp: /proc/self/status; mount -t tmpfs x /mnt']);
    expect(again.stdout).toMatch(/Seccomp:\s+2/);
    expect(again.code).not.toBe(0);
  });

  it('--userns maps container root to an unprivileged host uid', async () => {
    const r = await d.ok(['run', '--rm', '--userns', 'busybox', 'sh', '-c', 'cat /proc/self/uid_map; touch /made && echo wrote']);
    expect(r).toMatch(/^\s*0\s+100000\s+65536/);
    expect(r).toMatch(/wrote/);
  });
});

describe('restart policies', () => {
  it('on-failure restarts a failing container up to its limit', async () => {
    await d.ok(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 1']);
    await waitFor(async () => (await state('flaky', 'RestartCount')) === '2' && (await state('flaky', 'Status')) === 'exited', 20_000, 200);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await state('flaky', 'RestartCount')).toBe('2');
    expect((await d.ok(['logs', 'flaky'])).match(/run/g)).toHaveLength(3);
    await d.ok(['rm', 'flaky']);
  });

  it('always restarts, but not after a user stop', async () => {
    await d.ok(['run', '-d', '--name', 'always', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2']);
    await waitFor(async () => Number(await state('always', 'RestartCount')) >= 2, 20_000, 200);
    await d.ok(['stop', '-t', '1', 'always']);
    const count = await state('always', 'RestartCount');
    await new Promise((r) => setTimeout(r, 1500));
    expect(await state('always', 'Status')).toBe('exited');
    expect(await state('always', 'RestartCount')).toBe(count);
    await d.ok(['rm', 'always']);
  });
});
