import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, waitFor } from '../helpers/hull.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.destroy();
});

describe('container lifecycle through the CLI', () => {
  it('run --rm prints the output and exits with the container code', async () => {
    const r = await d.hull(['run', '--rm', 'busybox', 'echo', 'hello']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello\n');
    expect(r.code).toBe(0);
    const code = await d.hull(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(code.code).toBe(3);
    expect(code.stdout).toBe('out\n');
    expect(code.stderr).toBe('err\n');
    // --rm left nothing behind
    expect((await d.ok(['ps', '-aq'])).trim()).toBe('');
  });

  it('runs detached with limits; ps, logs, exec, stats, top, inspect, stop, rm', async () => {
    const id = (
      await d.ok(['run', '-d', '--name', 'web', '-m', '64m', '--cpus', '0.5', '--pids-limit', '64', 'busybox', 'sh', '-c', 'while true; do date; sleep 1; done'])
    ).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ps = await d.ok(['ps']);
    expect(ps).toMatch(/web/);
    expect(ps).toMatch(/Up /);
    const json = JSON.parse(await d.ok(['ps', '--format', 'json']));
    expect(json[0]).toMatchObject({ name: 'web', status: 'running', type: 'container' });

    await waitFor(async () => (await d.ok(['logs', 'web'])).split('\n').filter(Boolean).length >= 2, 10_000);
    expect((await d.ok(['logs', '--tail', '1', 'web'])).split('\n').filter(Boolean)).toHaveLength(1);

    const exec = await d.hull(['exec', 'web', 'ps']);
    expect(exec.code).toBe(0);
    expect(exec.stdout).toMatch(/while true/);
    expect((await d.hull(['exec', 'web', 'sh', '-c', 'exit 7'])).code).toBe(7);
    expect((await d.hull(['exec', 'web', 'nosuchcmd'])).code).toBe(127);

    const stats = JSON.parse(await d.ok(['stats', '--no-stream', '--format', 'json', 'web']));
    expect(stats[0].memoryLimit).toBe(64 * 1024 * 1024);
    expect(stats[0].pidsLimit).toBe(64);
    expect(stats[0].pids).toBeGreaterThanOrEqual(1);
    expect(await d.ok(['stats', '--no-stream', 'web'])).toMatch(/MEM USAGE/);

    expect(await d.ok(['top', 'web'])).toMatch(/while true/);
    const inspect = JSON.parse(await d.ok(['inspect', 'web']))[0];
    expect(inspect.config.resources).toMatchObject({ memoryBytes: 67108864, cpus: 0.5, pidsLimit: 64 });
    expect((await d.ok(['inspect', '-f', '{{.State.Status}}', 'web'])).trim()).toBe('running');

    const t0 = Date.now();
    await d.ok(['stop', '-t', '1', 'web']); // busybox sh as PID 1 ignores SIGTERM: stop escalates
    expect(Date.now() - t0).toBeLessThan(8000);
    expect((await d.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'web'])).trim()).toBe('exited 137');
    await d.ok(['rm', 'web']);
    expect((await d.hull(['inspect', 'web'])).code).not.toBe(0);
  });

  it('create, start, restart, kill -s, wait, pause/unpause', async () => {
    await d.ok(['create', '--name', 'c1', 'busybox', 'sh', '-c', 'trap "exit 42" TERM; while true; do sleep 0.1; done']);
    expect((await d.ok(['inspect', '-f', '{{.State.Status}}', 'c1'])).trim()).toBe('created');
    await d.ok(['start', 'c1']);
    expect((await d.ok(['inspect', '-f', '{{.State.Status}}', 'c1'])).trim()).toBe('running');
    await d.ok(['pause', 'c1']);
    expect((await d.ok(['inspect', '-f', '{{.State.Status}}', 'c1'])).trim()).toBe('paused');
    await d.ok(['unpause', 'c1']);
    await d.ok(['restart', '-t', '5', 'c1']);
    expect((await d.ok(['inspect', '-f', '{{.State.Status}}', 'c1'])).trim()).toBe('running');
    const waiting = d.hull(['wait', 'c1']);
    await d.ok(['kill', '-s', 'TERM', 'c1']);
    const w = await waiting;
    expect(w.stdout.trim()).toBe('42');
    await d.ok(['rm', 'c1']);
  });

  it('docker-style errors: unknown image, bad size, name in use, missing command, wrong state', async () => {
    const noImage = await d.hull(['run', '--rm', '--pull', 'never', 'nosuchimage', 'true']);
    expect(noImage.code).toBe(125);
    expect(noImage.stderr).toMatch(/image "nosuchimage(:latest)?" not found/);
    // Without --pull never it is looked for in the registry (none reachable here: the pull's error).
    const pulled = await d.hull(['run', '--rm', 'nosuchimage', 'true']);
    expect(pulled.code).toBe(125);
    expect(pulled.stderr).toMatch(/^Unable to find image 'nosuchimage' locally\n[^]*Error: registry docker.io: /);

    const badSize = await d.hull(['run', '--rm', '-m', '12x', 'busybox', 'true']);
    expect(badSize.code).not.toBe(0);
    expect(badSize.stderr).toMatch(/invalid size "12x"/);

    const tiny = await d.hull(['run', '--rm', '-m', '1m', 'busybox', 'true']);
    expect(tiny.code).not.toBe(0);
    expect(tiny.stderr).toMatch(/too small/);

    await d.ok(['create', '--name', 'taken', 'busybox', 'true']);
    const dup = await d.hull(['create', '--name', 'taken', 'busybox', 'true']);
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toMatch(/already in use/);

    const notFound = await d.hull(['run', '--rm', 'busybox', 'nosuchcommand']);
    expect(notFound.code).toBe(127);
    expect(notFound.stderr).toMatch(/nosuchcommand.*not found/);
    const notExec = await d.hull(['run', '--rm', 'busybox', '/etc/passwd']);
    expect(notExec.code).toBe(126);

    const wrong = await d.hull(['exec', 'taken', 'true']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/not running/);
    const unpause = await d.hull(['unpause', 'taken']);
    expect(unpause.stderr).toMatch(/not paused/);
    await d.ok(['rm', 'taken']);
    // nothing half-made: only what we made is listed
    expect((await d.ok(['ps', '-aq'])).trim()).toBe('');
  });

  it('ps --filter label: every label given must match, as docker', async () => {
    await d.ok(['create', '--name', 'lab-ab', '-l', 'a=1', '-l', 'b=2', 'busybox', 'true']);
    await d.ok(['create', '--name', 'lab-a', '-l', 'a=1', 'busybox', 'true']);
    const ls = async (...f: string[]) => (await d.ok(['ps', '-a', '--format', '{{.Names}}', ...f.flatMap((x) => ['--filter', x])])).trim().split('\n').filter(Boolean).sort();
    expect(await ls('label=a=1')).toEqual(['lab-a', 'lab-ab']);
    expect(await ls('label=a=1', 'label=b')).toEqual(['lab-ab']);
    expect(await ls('label=a', 'label=b=3')).toEqual([]);
    await d.ok(['rm', 'lab-ab', 'lab-a']);
  });

  it('runs with runc too', async () => {
    const r = await d.hull(['run', '--rm', '--runtime', 'runc', 'busybox', 'cat', '/proc/self/status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Seccomp:\s+2/);
  });

  it('env, workdir, user, entrypoint', async () => {
    const r = await d.ok(['run', '--rm', '-e', 'FOO=bar', '-w', '/tmp', '-u', 'nobody', 'busybox', 'sh', '-c', 'echo $FOO $(pwd) $(id -u)']);
    expect(r).toBe('bar /tmp 65534\n');
    const e = await d.ok(['run', '--rm', '--entrypoint', 'echo', 'busybox', 'from', 'entrypoint']);
    expect(e).toBe('from entrypoint\n');
  });
});
