import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * VMs as a user drives them: the real CLI against a real daemon, QEMU under
 * TCG (these machines cannot run KVM guests). Needs the built guest (`npm run setup`).
 */
process.env.HULL_VM_ACCEL = 'tcg';
const BIN = join(REPO, 'bin', 'hull');
const guestBuilt = existsSync(join(REPO, 'build', 'guest', 'guest.json'));

describe.skipIf(!guestBuilt)('hull vm (CLI, TCG)', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await TestDaemon.start();
  }, 60_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);

  it('create → start → console marker and typing → exec → ps → stop → snapshot → rm', async () => {
    await d.ok(['vm', 'create', '--name', 'db', '--cpus', '1', '--memory', '256m', '--disk', '512m', '--image', 'debian-min']);
    await d.ok(['create', '--name', 'web', 'busybox', 'sleep', '100']);
    await d.ok(['vm', 'start', 'db']);
    // The console log (`logs -f` follows it) gets the readiness marker with the kernel release.
    const followed = await streamUntil(d.socket, ['logs', '-f', 'db'], '', /HULL_GUEST_READY (\S+)/, 90_000);
    const release = /HULL_GUEST_READY (\S+)/.exec(followed)![1];
    expect((await d.ok(['logs', 'db']))).toContain(`HULL_GUEST_READY ${release}`);
    // The console attach is a raw two-way stream: type into the guest's shell, detach with Ctrl-].
    const typed = await streamUntil(d.socket, ['vm', 'console', 'db'], 'echo console-$((6*7))\n', /console-42/, 30_000, '\x1d');
    expect(typed).toMatch(/console-42/);
    expect((await d.ok(['vm', 'exec', 'db', '--', 'uname', '-r'])).trim()).toBe(release);
    const fail = await d.hull(['vm', 'exec', 'db', '--', 'sh', '-c', 'exit 5']);
    expect(fail.code).toBe(5);

    const ps = await d.ok(['ps', '-a']);
    expect(ps).toMatch(/\bvm\s+debian-min\b.*\bdb\b/);
    expect(ps).toMatch(/\bcontainer\s+busybox\b.*\bweb\b/);
    const inspect = JSON.parse(await d.ok(['vm', 'inspect', 'db']))[0];
    expect(inspect.vm.accel.accel).toBe('tcg');
    expect(JSON.parse(await d.ok(['inspect', 'db']))[0].vm.accel.accel).toBe('tcg');
    expect(await d.ok(['stats', '--no-stream', 'db'])).toMatch(/\bdb\b/);
    expect(await d.ok(['top', 'db'])).toMatch(/agent|init/);
    expect(JSON.parse(await d.ok(['vm', 'ls', '--format', 'json'])).map((x: { name: string }) => x.name)).toEqual(['db']);

    await d.ok(['vm', 'pause', 'db']);
    expect(JSON.parse(await d.ok(['vm', 'inspect', 'db']))[0].vm.qmpStatus).toBe('paused');
    expect((await d.hull(['vm', 'pause', 'db'])).stderr).toMatch(/VM db is not running/);
    await d.ok(['vm', 'resume', 'db']);
    // A full snapshot while running; restoring it on a running VM needs --force.
    await d.ok(['vm', 'snapshot', 'create', 'db', 'live']);
    await d.ok(['vm', 'exec', 'db', '--', 'touch', '/after-live']);
    expect((await d.hull(['vm', 'snapshot', 'restore', 'db', 'live'])).stderr).toMatch(/force/);
    await d.ok(['vm', 'snapshot', 'restore', '--force', 'db', 'live'], { timeoutMs: 60_000 });
    expect((await d.hull(['vm', 'exec', 'db', '--', 'test', '-e', '/after-live'])).code).toBe(1);
    await d.ok(['vm', 'snapshot', 'rm', 'db', 'live']);

    await d.ok(['vm', 'stop', '-t', '30', 'db'], { timeoutMs: 60_000 });
    expect(JSON.parse(await d.ok(['vm', 'inspect', 'db']))[0].state).toMatchObject({ status: 'exited', exitCode: 0 });
    expect((await d.ok(['vm', 'ls', '-q'])).trim()).toBe('');
    await d.ok(['vm', 'snapshot', 'create', 'db', 'clean']);
    expect(await d.ok(['vm', 'snapshot', 'ls', 'db'])).toMatch(/clean\s+disk/);
    await d.ok(['vm', 'snapshot', 'restore', 'db', 'clean']);
    // restart and kill go through the common lifecycle too.
    await d.ok(['vm', 'start', 'db']);
    await d.ok(['vm', 'restart', '-t', '0', 'db'], { timeoutMs: 60_000 });
    expect(JSON.parse(await d.ok(['vm', 'inspect', 'db']))[0].state).toMatchObject({ status: 'running', restartCount: 0 });
    await d.ok(['vm', 'kill', 'db']);
    await waitFor(async () => JSON.parse(await d.ok(['vm', 'inspect', 'db']))[0].state.status === 'exited', 20_000);
    expect(JSON.parse(await d.ok(['vm', 'inspect', 'db']))[0].state.exitCode).toBe(137);
    await d.ok(['vm', 'rm', 'db']);
    await d.ok(['rm', 'web']);
    expect((await d.ok(['ps', '-aq'])).trim()).toBe('');
    expect(await readdir(join(d.root, 'vms')).catch(() => [])).toEqual([]);
  }, 150_000);

  it('run --isolation vm: the guest kernel prints, the exit code is carried', async () => {
    const r = await d.hull(['run', '--isolation', 'vm', '--rm', 'busybox', 'sh', '-c', 'uname -r; exit 3'], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+-\S+$/);
    // Without --rm the container stays, as any container does, until rm.
    const flags = await d.hull(['run', '--name', 'kept', '--isolation', 'vm', '-e', 'GREETING=hi', '-m', '128m', '--cpus', '2', 'busybox', 'sh', '-c', 'echo $GREETING >&2; nproc'], { timeoutMs: 90_000 });
    expect(flags.code, flags.stderr).toBe(0);
    expect(flags.stderr).toBe('hi\n');
    expect(flags.stdout.trim()).toBe('2');
    expect(await d.ok(['ps', '-a'])).toMatch(/container\(vm\)\s+busybox .*Exited \(0\).* kept/);
    await d.ok(['rm', 'kept']);
    expect((await d.ok(['ps', '-aq'])).trim()).toBe('');
  }, 100_000);

  it('a daemon SIGKILLed while a VM runs: the next one re-adopts it, exec and stop work', async () => {
    await d.ok(['vm', 'create', '--name', 'keep']);
    // --wait returns once the guest is configured and its agent answers: the ready line is out by then.
    await d.ok(['vm', 'start', '--wait', 'keep'], { timeoutMs: 130_000 });
    expect((await d.hull(['logs', 'keep'])).stdout).toContain('HULL_GUEST_READY');
    expect((await d.hull(['vm', 'start', '--wait', '--timeout', '0', 'keep'])).stderr).toMatch(/invalid timeout/);
    await d.crash();
    await d.spawn();
    expect(await d.ok(['vm', 'ls'])).toMatch(/keep\s+debian-min\s+running/);
    // A clean daemon stop leaves it running too.
    await d.stop();
    await d.spawn();
    expect(await d.ok(['vm', 'ls'])).toMatch(/keep\s+debian-min\s+running/);
    expect((await d.ok(['vm', 'exec', 'keep', '--', 'hostname'])).trim()).toBe('keep');
    await d.ok(['vm', 'stop', '-t', '30', 'keep'], { timeoutMs: 60_000 });
    const r = JSON.parse(await d.ok(['vm', 'inspect', 'keep']))[0];
    expect(r.state).toMatchObject({ status: 'exited', exitCode: 0 });
    await d.ok(['vm', 'rm', 'keep']);
  }, 150_000);

  it('vm image import (raw → qcow2), ls, rm; an image in use is refused', async () => {
    const raw = join(d.root, 'blank.raw');
    await writeFile(raw, Buffer.alloc(0));
    await truncate(raw, 8 * 1024 * 1024);
    await d.ok(['vm', 'image', 'import', raw, '--name', 'blank']);
    const xs = JSON.parse(await d.ok(['vm', 'image', 'ls', '--format', 'json'])) as Array<{ name: string; format: string; virtualSize: number }>;
    expect(xs.map((x) => x.name).sort()).toEqual(['blank', 'debian-min']);
    expect(xs.find((x) => x.name === 'blank')).toMatchObject({ format: 'qcow2', virtualSize: 8 * 1024 * 1024 });
    expect((await d.ok(['vm', 'image', 'ls', '-q'])).trim().split('\n')).toHaveLength(2);
    // An imported disk boots through the firmware (this blank one finds nothing to boot and waits).
    await d.ok(['vm', 'create', '--name', 'user', '--image', 'blank']);
    await d.ok(['vm', 'start', 'user']);
    // It has no Hull agent: --wait gives up after its timeout, saying why.
    const never = await d.hull(['vm', 'start', '--wait', '--timeout', '2', 'user']);
    expect(never.code).toBe(1);
    expect(never.stderr).toMatch(/not ready \(a guest without Hull's agent/);
    const inUse = await d.hull(['vm', 'image', 'rm', 'blank']);
    expect(inUse.code).toBe(1);
    expect((await d.hull(['vm', 'rm', 'user'])).stderr).toMatch(/VM user is running: stop it first or use --force/);
    await d.ok(['vm', 'rm', '-f', 'user']);
    expect(await readdir(join(d.root, 'vms'))).toEqual([]);
    await d.ok(['vm', 'image', 'rm', 'blank']);
    expect(await d.ok(['vm', 'image', 'ls'])).not.toMatch(/blank/);
  }, 60_000);

  it('bad input: a name in use (shared with containers), too much memory, an unknown image', async () => {
    await d.ok(['create', '--name', 'taken', 'busybox', 'true']);
    const inUse = await d.hull(['vm', 'create', '--name', 'taken']);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toMatch(/already in use/);
    const big = await d.hull(['vm', 'create', '--name', 'big', '--memory', '100t']);
    expect(big.code).toBe(1);
    expect(big.stderr).toMatch(/not enough memory/);
    const unknown = await d.hull(['vm', 'create', '--name', 'nope', '--image', 'no-such-image']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/VM image "no-such-image" not found/);
    await d.ok(['rm', 'taken']);
    expect((await d.ok(['ps', '-aq'])).trim()).toBe('');
    expect(await readdir(join(d.root, 'vms')).catch(() => [])).toEqual([]);
  }, 60_000);
});

describe('hull vm without a built guest', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    process.env.HULL_GUEST_DIR = '/nonexistent/guest';
    try {
      d = await TestDaemon.start();
    } finally {
      delete process.env.HULL_GUEST_DIR;
    }
  }, 60_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);

  it('VMs say to run `npm run setup`; containers are unaffected', async () => {
    const r = await d.hull(['vm', 'create', '--name', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/npm run setup/);
    const run = await d.hull(['run', '--isolation', 'vm', 'busybox', 'true']);
    expect(run.code).toBe(125); // docker run's code for a container the daemon refused
    expect(run.stderr).toMatch(/npm run setup/);
    expect((await d.ok(['run', '--rm', 'busybox', 'echo', 'ok'])).trim()).toBe('ok');
  }, 60_000);
});

/**
 * Run the CLI, typing `input`, until its output matches; then end it: with
 * `detach` written to stdin (the console's Ctrl-]), else with SIGTERM.
 */
function streamUntil(socket: string, args: string[], input: string, until: RegExp, timeoutMs: number, detach?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, '-H', `unix://${socket}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let seen = false;
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`hull ${args.join(' ')}: no ${until} in ${JSON.stringify(out)}`));
    }, timeoutMs);
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (seen || !until.test(out)) return;
      seen = true;
      if (detach) p.stdin.write(detach);
      else p.kill('SIGTERM');
    });
    p.on('close', (code) => {
      clearTimeout(t);
      if (seen && (code === 0 || !detach)) resolve(out);
      else reject(new Error(`hull ${args.join(' ')} exited ${code}: ${out}`));
    });
    // Give the attach a moment, then type (the shell prompt is already there).
    if (input) setTimeout(() => p.stdin.write(input), 500);
  });
}
