import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, waitFor } from '../helpers/hull.js';

/** --init: tini as PID 1 forwards signals and reaps orphans; the program keeps its exit code. */
let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.destroy();
});

// An orphan: the inner shell starts `sleep 0.2` and exits, so the sleep is re-parented to PID 1;
// `exec sleep 30` makes PID 1 (without --init) a program that never waits for it.
const ORPHAN = ['sh', '-c', 'sh -c "sleep 0.2 &"; exec sleep 30'];
const zombies = async (name: string) => Number((await d.ok(['exec', name, 'sh', '-c', 'cat /proc/[0-9]*/status | grep -c "^State:[[:space:]]*Z" || true'])).trim());

describe('--init', () => {
  it('runs tini as PID 1, which reaps orphans; without it they stay zombies', async () => {
    await d.ok(['run', '-d', '--init', '--name', 'reaped', 'busybox', ...ORPHAN]);
    await d.ok(['run', '-d', '--name', 'plain', 'busybox', ...ORPHAN]);
    expect(await d.ok(['exec', 'reaped', 'cat', '/proc/1/cmdline'])).toBe('/run/hull-init\0--\0sh\0-c\0sh -c "sleep 0.2 &"; exec sleep 30\0');
    // The zombie under plain PID 1 shows the orphan existed and ended; under tini it is gone.
    await waitFor(async () => (await zombies('plain')) === 1, 10_000);
    expect(await zombies('reaped')).toBe(0);
    // exec does not go through init: its process is no child of tini (its parent is outside the namespace).
    expect(await d.ok(['exec', 'reaped', 'sh', '-c', 'grep ^PPid: /proc/$$/status'])).toMatch(/^PPid:\s+0$/m);
    // The record keeps the user's command; inspect says init.
    const rec = JSON.parse(await d.ok(['inspect', 'reaped']))[0];
    expect(rec.config).toMatchObject({ init: true, cmd: ORPHAN });
    expect((await d.ok(['inspect', '-f', '{{.HostConfig.Init}}', 'reaped'])).trim()).toBe('true');
    expect((await d.ok(['inspect', '-f', '{{.HostConfig.Init}}', 'plain'])).trim()).toBe('false');
  });

  it('stop is prompt: tini forwards SIGTERM to a PID-1 program that does not handle it', async () => {
    let t0 = Date.now();
    await d.ok(['stop', '-t', '3', 'reaped']);
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(await d.state('reaped', 'ExitCode')).toBe('143'); // tini: 128 + SIGTERM
    t0 = Date.now();
    await d.ok(['stop', '-t', '3', 'plain']); // sleep as PID 1 ignores SIGTERM: stop waits, then kills
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2900);
    expect(await d.state('plain', 'ExitCode')).toBe('137');
    await d.ok(['rm', 'reaped', 'plain']);
  });

  it('passes the exit code and output through, with a terminal, with runc and with --userns', async () => {
    const r = await d.hull(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    const tty = await d.hullTty(['run', '--rm', '-t', '--init', 'busybox', 'sh', '-c', 'tty; cat /proc/1/cmdline | tr "\\0" " "; exit 4'], []);
    expect(tty.code).toBe(4);
    expect(tty.out).toMatch(/\/dev\/pts\/0/);
    expect(tty.out).toMatch(/\/run\/hull-init -- sh -c/);
    for (const extra of [['--runtime', 'runc'], ['--userns'], ['--userns', '--runtime', 'runc']]) {
      const o = await d.hull(['run', '--rm', '--init', ...extra, 'busybox', 'sh', '-c', 'head -c 14 /proc/1/cmdline; exit 5']);
      expect(o, extra.join(' ')).toEqual({ code: 5, stdout: '/run/hull-init', stderr: '' });
    }
  });

  it('refuses --init with --isolation vm, saying why', async () => {
    const r = await d.hull(['create', '--init', '--isolation', 'vm', 'busybox', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--isolation vm and --init cannot be used together: in its VM the program is not PID 1/);
  });
});
