import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGuest, type GuestArtifacts } from '../../src/runtime/qemu/guest.js';
import { TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * `hull run --isolation vm`: an image's program in a small VM of its own,
 * as a container like any other (ps, logs, stop, wait, rm, -d, -i), through
 * the real daemon and CLI, with QEMU under TCG here.
 */
let d: TestDaemon;
let guest: GuestArtifacts;
let ctx: string;
const IMAGE = 'iso-test:1';

beforeAll(async () => {
  d = await TestDaemon.start();
  guest = await loadGuest();
  // An image with a user, a file deleted by a later layer (whiteout) and a directory replaced (opaque).
  ctx = await mkdtemp('/tmp/hull-isoctx-');
  await writeFile(
    join(ctx, 'Dockerfile'),
    [
      'FROM busybox',
      "RUN mkdir -p /old/sub && echo hidden >/old/sub/hidden && echo gone >/etc/deleted-by-top && echo 'svc:x:1234:4321::/home/svc:/bin/sh' >>/etc/passwd && echo 'svcg:x:4321:' >>/etc/group",
      "RUN rm /etc/deleted-by-top && rm -rf /old && mkdir -p /old && echo 'from the top layer' >/old/new",
      'ENV GREETING="hello world"',
      '',
    ].join('\n'),
  );
  await d.ok(['build', '-q', '-t', IMAGE, ctx], { timeoutMs: 120_000 });
}, 180_000);

afterAll(async () => {
  await d?.destroy();
  await rm(ctx, { recursive: true, force: true });
});

const ivmDirs = async () => (await readdir(join(d.root, 'ivm')).catch(() => [] as string[])).length;
const bases = async () => (await readdir(join(d.root, 'ivm-base')).catch(() => [] as string[])).filter((f) => f.endsWith('.ext4'));

describe('hull run --isolation vm', () => {
  it('returns the program\'s exit code and output, prints the guest kernel release, and --rm leaves nothing', { timeout: 120_000 }, async () => {
    const r = await d.hull(['run', '--rm', '--isolation', 'vm', IMAGE, 'sh', '-c', 'uname -r; echo "$GREETING" >&2; exit 3'], { timeoutMs: 110_000 });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe(`${guest.kernelRelease}\n`);
    expect(r.stderr).toBe('hello world\n');
    expect((await d.ok(['ps', '-aq'])).trim()).toBe('');
    expect(await ivmDirs()).toBe(0);
    expect(await bases()).toEqual([]);
  });

  it("shares one ext4 of the image between its containers (each disk a qcow2 overlay); the last rm takes it", { timeout: 60_000 }, async () => {
    const a = (await d.ok(['create', '--isolation', 'vm', IMAGE, 'true'])).trim();
    const b = (await d.ok(['create', '--isolation', 'vm', IMAGE, 'true'])).trim();
    expect(await bases()).toHaveLength(1);
    const base = join(d.root, 'ivm-base', (await bases())[0]);
    for (const id of [a, b]) {
      const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', join(d.root, 'ivm', id, 'disk.qcow2')]).toString()) as { format: string; 'backing-filename': string; 'actual-size': number };
      expect(info.format).toBe('qcow2');
      expect(info['backing-filename']).toBe(base);
      expect(info['actual-size']).toBeLessThan(1024 * 1024);
    }
    expect((await d.hull(['start', '-a', a], { timeoutMs: 50_000 })).code).toBe(0);
    await d.ok(['rm', a]);
    expect(await bases()).toHaveLength(1);
    await d.ok(['rm', b]);
    expect(await bases()).toEqual([]);
  });

  it("carries workdir, user, env, -m and --cpus; shows the layers' whiteouts; streams large output whole", { timeout: 120_000 }, async () => {
    const script = [
      'pwd; id -u; id -g; nproc',
      "awk '/MemTotal/ { print ($2 > 400000 && $2 < 524288) ? \"mem-ok\" : \"mem-bad \" $2 }' /proc/meminfo",
      'test -e /etc/deleted-by-top && echo whiteout-missed || echo whiteout-ok',
      'test -e /old/sub/hidden && echo opaque-missed || cat /old/new',
      'head -c 300000 /dev/zero | tr "\\0" x; echo',
    ].join('\n');
    const r = await d.hull(['run', '--rm', '--isolation', 'vm', '-w', '/work/here', '-u', 'svc', '-m', '512m', '--cpus', '2', IMAGE, 'sh', '-c', script], { timeoutMs: 110_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(0, 8)).toEqual(['/work/here', '1234', '4321', '2', 'mem-ok', 'whiteout-ok', 'from the top layer', 'x'.repeat(300000)]);
  });

  it('runs detached: ps shows it, logs follow it, stop delivers SIGTERM to the program, inspect says isolation vm', { timeout: 120_000 }, async () => {
    const id = (await d.ok(['run', '-d', '--name', 'ticker', '--isolation', 'vm', IMAGE, 'sh', '-c', 'trap "echo got-term; exit 7" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'], { timeoutMs: 60_000 })).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await d.ok(['ps'])).toMatch(/container\(vm\)\s+iso-test:1 .* ticker/);
    await waitFor(async () => (await d.ok(['logs', 'ticker'])).includes('tick 3'), 60_000, 200);
    const ps = JSON.parse(await d.ok(['ps', '--format', 'json'])) as Array<{ name: string; isolation?: string }>;
    expect(ps.find((x) => x.name === 'ticker')?.isolation).toBe('vm');
    const [insp] = JSON.parse(await d.ok(['inspect', 'ticker'])) as Array<{ config: { isolation: string }; vm: { accel: { accel: string }; qemuPid: number } }>;
    expect(insp.config.isolation).toBe('vm');
    expect(insp.vm.accel.accel).toMatch(/^(tcg|kvm)$/);
    expect(insp.vm.qemuPid).toBeGreaterThan(0);
    const stats = JSON.parse(await d.ok(['stats', '--no-stream', '--format', 'json', 'ticker'])) as Array<Record<string, unknown>>;
    expect(JSON.stringify(stats)).toMatch(/ticker/);
    // cp goes through the guest (vm-isolated-cp.test.ts has the rest).
    const out = join(ctx, 'hostname');
    await d.ok(['cp', 'ticker:/etc/hostname', out], { timeoutMs: 60_000 });
    expect(await readFile(out, 'utf8')).toBe(`${id.slice(0, 12)}\n`);
    await d.ok(['stop', 'ticker'], { timeoutMs: 30_000 });
    expect(await d.state('ticker', 'ExitCode')).toBe('7');
    const logs = await d.hull(['logs', '--timestamps', 'ticker']);
    expect(logs.stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+.* tick 0$/m);
    expect(logs.stdout.trim().split('\n').at(-1)).toMatch(/got-term$/);
    // Started again: the same disk, the program runs anew (docker start).
    await d.ok(['start', 'ticker']);
    await waitFor(async () => (await d.ok(['logs', 'ticker'])).split('tick 0').length === 3, 60_000, 200);
    await d.ok(['kill', 'ticker']);
    await waitFor(async () => (await d.state('ticker', 'Status')) === 'exited', 20_000, 100);
    expect(await d.state('ticker', 'ExitCode')).toBe('137');
    await d.ok(['rm', 'ticker']);
    expect(await ivmDirs()).toBe(0);
  });

  it('joins networks like a container: -p publishes its port, containers reach it by name and it reaches them', { timeout: 150_000 }, async () => {
    await d.ok(['network', 'create', 'isonet']);
    const port = 20000 + Math.floor(Math.random() * 20000);
    await d.ok(['run', '-d', '--name', 'isoweb', '--network', 'isonet', '-p', `${port}:80`, '--isolation', 'vm', IMAGE, 'sh', '-c', 'mkdir /www; echo hello-from-vm >/www/index.html; httpd -f -p 80 -h /www'], { timeoutMs: 60_000 });
    await d.ok(['run', '-d', '--name', 'plainweb', '--network', 'isonet', 'busybox', 'sh', '-c', 'mkdir /www; echo hello-from-container >/www/index.html; httpd -f -p 80 -h /www']);
    const fromHost = await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
      return r?.ok ? r.text() : undefined;
    }, 60_000, 250);
    expect(fromHost).toBe('hello-from-vm\n');
    expect(await d.ok(['run', '--rm', '--network', 'isonet', 'busybox', 'wget', '-qO-', 'http://isoweb/'])).toBe('hello-from-vm\n');
    expect(await d.ok(['run', '--rm', '--network', 'isonet', '--isolation', 'vm', IMAGE, 'wget', '-qO-', 'http://plainweb/'], { timeoutMs: 60_000 })).toBe('hello-from-container\n');
    const live = await d.hull(['network', 'disconnect', 'isonet', 'isoweb']);
    expect(live.stderr).toMatch(/while it is stopped/);
    await d.ok(['rm', '-f', 'isoweb', 'plainweb']);
    await d.ok(['network', 'rm', 'isonet']);
  });

  it('exec runs in the container (its root, workdir, env and users), with stdin and exit codes; top lists its processes', { timeout: 120_000 }, async () => {
    await d.ok(['run', '-d', '--name', 'execme', '-w', '/srv', '--isolation', 'vm', IMAGE, 'sh', '-c', 'echo made >/srv/marker; exec sleep 600'], { timeoutMs: 60_000 });
    const out = await waitFor(async () => {
      const r = await d.hull(['exec', 'execme', 'sh', '-c', 'pwd; cat marker; echo "$GREETING"; test -e /old/new && echo container-root'], { timeoutMs: 60_000 });
      return r.code === 0 && r.stdout.includes('made') ? r.stdout : undefined;
    }, 60_000, 500);
    expect(out).toBe('/srv\nmade\nhello world\ncontainer-root\n');
    expect((await d.ok(['exec', '-u', 'svc', '-w', '/', '-e', 'X=1', 'execme', 'sh', '-c', 'id -u; id -g; pwd; echo $X'])).split('\n')).toEqual(['1234', '4321', '/', '1', '']);
    expect(await d.ok(['exec', '-i', 'execme', 'tr', 'a-z', 'A-Z'], { input: 'piped\n' })).toBe('PIPED\n');
    expect((await d.hull(['exec', 'execme', 'sh', '-c', 'exit 6'])).code).toBe(6);
    expect((await d.hull(['exec', 'execme', 'no-such-command'])).code).toBe(127);
    expect(await d.ok(['top', 'execme'])).toMatch(/sleep 600/);
    await d.ok(['rm', '-f', 'execme']);
  });

  it('runs the program on a terminal with -t (TERM set, input typed at it with -i, signals reach it)', { timeout: 120_000 }, async () => {
    const t = await d.hull(['run', '--rm', '-t', '--isolation', 'vm', IMAGE, 'sh', '-c', 'tty; echo "$TERM"; exit 4'], { timeoutMs: 110_000 });
    expect(t.stdout).toBe('/dev/pts/0\r\nxterm\r\n');
    expect(t.code).toBe(4);
    // -it wants a terminal for its input (docker's rule): typed at a pty.
    const it = await d.hullTty(['run', '--rm', '-it', '--isolation', 'vm', IMAGE, 'sh'], [[1000, 'echo typed-$((6*7))\n'], [500, 'exit 5\n']], 110_000);
    expect(it.out).toMatch(/typed-42\r+\n/); // the guest's \r\n, then the local pty's onlcr
    expect(it.code).toBe(5);
    await d.ok(['run', '-d', '-t', '--name', 'onatty', '--isolation', 'vm', IMAGE, 'sh', '-c', 'trap "echo got-int; exit 9" INT; echo ready; while true; do sleep 1; done'], { timeoutMs: 60_000 });
    await waitFor(async () => (await d.ok(['logs', 'onatty'])).includes('ready'), 60_000, 200);
    await d.ok(['kill', '-s', 'INT', 'onatty']);
    await waitFor(async () => (await d.state('onatty', 'Status')) === 'exited', 30_000, 200);
    expect(await d.state('onatty', 'ExitCode')).toBe('9');
    expect(await d.ok(['logs', 'onatty'])).toMatch(/got-int/);
    await d.ok(['rm', 'onatty']);
  });

  it('gives the program stdin with -i', { timeout: 120_000 }, async () => {
    const r = await d.hull(['run', '--rm', '-i', '--isolation', 'vm', IMAGE, 'sh', '-c', 'tr a-z A-Z; echo done'], { input: 'hi there\n', timeoutMs: 110_000 });
    expect(r.stdout).toBe('HI THERE\ndone\n');
    expect(r.code).toBe(0);
  });

  it('keeps running through a daemon SIGKILL: the output made meanwhile and the exit code are not lost', { timeout: 150_000 }, async () => {
    await d.ok(['run', '-d', '--name', 'survivor', '--isolation', 'vm', IMAGE, 'sh', '-c', 'for i in 1 2 3 4 5 6; do echo t$i; sleep 0.5; done; exit 5'], { timeoutMs: 60_000 });
    await waitFor(async () => (await d.ok(['logs', 'survivor'])).includes('t1'), 60_000, 100);
    await d.crash();
    await new Promise((r) => setTimeout(r, 4000)); // the program finishes while no daemon listens
    // What a killed daemon may leave in the base cache: a half-made base, one nobody uses.
    await mkdir(join(d.root, 'ivm-base', '.make-dead'), { recursive: true });
    await writeFile(join(d.root, 'ivm-base', 'deadbeefdeadbeefdeadbeefdeadbeef.ext4'), 'x');
    await d.spawn();
    expect(await readdir(join(d.root, 'ivm-base'))).toEqual([(await bases())[0]]);
    expect(await bases()).toHaveLength(1); // survivor's
    const r = await d.hull(['wait', 'survivor'], { timeoutMs: 60_000 });
    expect(r.stdout.trim()).toBe('5');
    expect((await d.ok(['logs', 'survivor'])).trim().split('\n')).toEqual(['t1', 't2', 't3', 't4', 't5', 't6']);
    await d.ok(['rm', 'survivor']);
  });

  it('reports a command that is not there as 127, and refuses what it cannot do before making anything', { timeout: 120_000 }, async () => {
    const r = await d.hull(['run', '--rm', '--isolation', 'vm', IMAGE, 'no-such-command'], { timeoutMs: 110_000 });
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/can't execute 'no-such-command'/);
    const userns = await d.hull(['run', '--rm', '--userns', '--isolation', 'vm', IMAGE, 'true']);
    expect(userns.code).toBe(125);
    expect(userns.stderr).toMatch(/--userns cannot be used together/);
    const small = await d.hull(['run', '--rm', '-m', '16m', '--isolation', 'vm', IMAGE, 'true']);
    expect(small.code).toBe(125);
    expect(small.stderr).toMatch(/minimum is 64MiB/);
    const big = await d.hull(['run', '--rm', '-m', '1000000g', '--isolation', 'vm', IMAGE, 'true']);
    expect(big.code).toBe(125);
    expect(big.stderr).toMatch(/not enough memory/);
    const host = await d.hull(['run', '--rm', '--network', 'host', '--isolation', 'vm', IMAGE, 'true']);
    expect(host.code).toBe(125);
    expect(host.stderr).toMatch(/--network host cannot be used/);
    const bad = await d.hull(['run', '--rm', '--isolation', 'kata', IMAGE, 'true']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/invalid --isolation "kata"/);
    expect((await d.ok(['ps', '-aq'])).trim()).toBe('');
    expect(await ivmDirs()).toBe(0);
    expect(existsSync(join(d.root, 'ivm'))).toBe(true);
  });
});
