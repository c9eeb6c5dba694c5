import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHullError } from '../../src/core/errors.js';
import { chooseAccel, type AccelChoice } from '../../src/runtime/qemu/accel.js';
import { loadGuest, type GuestArtifacts } from '../../src/runtime/qemu/guest.js';
import { cleanupIsolatedLeftovers, runIsolated, type IsolatedRunOptions } from '../../src/runtime/qemu/isolated.js';
import { run } from '../../src/sys/run.js';
import { busyboxLayers } from '../../src/runtime/qemu/testing.js';

/** `hull run --isolation vm`: an image's program in its own VM, exit code and output carried back. */
let dir: string;
let tmp: string;
let layers: string[];
let guest: GuestArtifacts;
let accel: AccelChoice;

beforeAll(async () => {
  dir = await mkdtemp('/tmp/hull-iso-');
  tmp = join(dir, 'tmp');
  await mkdir(tmp);
  layers = await busyboxLayers(dir);
  guest = await loadGuest();
  accel = await chooseAccel(guest);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function runIt(argv: string[], extra: Partial<IsolatedRunOptions> = {}) {
  let stdout = '';
  let stderr = '';
  const r = await runIsolated({
    layerDirs: layers,
    argv,
    env: ['PATH=/bin', 'GREETING=hello world'],
    tmpDir: tmp,
    guest,
    accel,
    onStdout: (b) => (stdout += b.toString()),
    onStderr: (b) => (stderr += b.toString()),
    ...extra,
  });
  return { ...r, stdout, stderr };
}

describe(`runIsolated (${process.env.HULL_VM_ACCEL ?? 'auto'} accelerator)`, () => {
  it('returns the exit code and the output, prints the guest kernel release, and leaves nothing behind', { timeout: 120_000 }, async () => {
    const r = await runIt(['sh', '-c', 'uname -r; echo "$GREETING" >&2; exit 3']);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe(`${guest.kernelRelease}\n`);
    expect(r.stderr).toBe('hello world\n');
    expect(r.accel.accel).toBe(accel.accel);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('carries workdir, user, env, -m and --cpus; applies the layers\' whiteouts; streams large output whole', { timeout: 120_000 }, async () => {
    const script = [
      'pwd; id -u; id -g; nproc',
      "awk '/MemTotal/ { print ($2 > 400000 && $2 < 524288) ? \"mem-ok\" : \"mem-bad \" $2 }' /proc/meminfo",
      'test -e /etc/deleted-by-top && echo whiteout-missed || echo whiteout-ok',
      'test -e /old/sub/hidden && echo opaque-missed || cat /old/new',
      'head -c 300000 /dev/zero | tr "\\0" x; echo',
    ].join('\n');
    const r = await runIt(['sh', '-c', script], { workingDir: '/work/here', user: 'svc', memoryBytes: 512 << 20, cpus: 2 });
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 8)).toEqual(['/work/here', '1234', '4321', '2', 'mem-ok', 'whiteout-ok', 'from the top layer', 'x'.repeat(300000)]);
    expect(r.stderr).toBe('');
  });

  it('reports a command that is not there as 127, and refuses bad input before starting anything', { timeout: 120_000 }, async () => {
    const r = await runIt(['no-such-command']);
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toMatch(/can't execute 'no-such-command'/);
    const big = await runIt(['true'], { memoryBytes: 2 ** 50 }).catch((e: unknown) => e);
    expect(isHullError(big, 'resource')).toBe(true);
    expect((big as Error).message).toMatch(/not enough memory/);
    await expect(runIt([])).rejects.toThrow(/no command/);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('ends with 137 when aborted', { timeout: 120_000 }, async () => {
    const ac = new AbortController();
    const p = runIt(['sh', '-c', 'echo started; sleep 600'], { signal: ac.signal, onStdout: () => ac.abort() });
    const r = await p;
    expect(r.exitCode).toBe(137);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('cleans up what the runs of a killed daemon left: a layer mount, a disk image', async () => {
    const left = join(tmp, 'hull-vmrun-dead', 'merge-x', 'merged');
    await mkdir(left, { recursive: true });
    await run(['mount', '-t', 'tmpfs', 'tmpfs', left]);
    await writeFile(join(tmp, 'hull-vmrun-dead', 'rootfs.ext4'), 'x');
    await writeFile(join(tmp, 'unrelated'), 'kept');
    await cleanupIsolatedLeftovers(tmp);
    expect(await readdir(tmp)).toEqual(['unrelated']);
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain('hull-vmrun-dead');
    await rm(join(tmp, 'unrelated'));
  });
});
