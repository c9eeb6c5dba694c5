import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHullError } from '../../src/core/errors.js';
import type { Instance } from '../../src/core/instance.js';
import { chooseAccel, type AccelChoice } from '../../src/runtime/qemu/accel.js';
import { AgentClient } from '../../src/runtime/qemu/agent.js';
import { QemuDriver } from '../../src/runtime/qemu/driver.js';
import { loadGuest, READY_MARKER, type GuestArtifacts } from '../../src/runtime/qemu/guest.js';
import { VmImages } from '../../src/runtime/qemu/images.js';
import { processRunning, vmInstance, waitFor } from '../../src/runtime/qemu/testing.js';

/**
 * The QEMU driver with real QEMU and Hull's guest (under TCG here; KVM where it
 * works; HULL_VM_ACCEL=tcg forces TCG). One VM goes through its whole life;
 * a second is re-adopted by fresh driver instances, as a restarted daemon would.
 */
let root: string;
let guest: GuestArtifacts;
let accel: AccelChoice;
let images: VmImages;
const BOOT_MS = 90_000;

const newDriver = () => new QemuDriver({ root, images, guest: async () => guest });
const exec = async (d: QemuDriver, inst: Instance, cmd: string[]) => {
  const s = await d.exec(inst, { cmd, env: [], workingDir: '', user: '', tty: false, stdin: false });
  const out: Buffer[] = [];
  s.stdio.onData((_stream, b) => out.push(b));
  await s.start();
  const code = await s.exitCode;
  return { code, out: Buffer.concat(out).toString() };
};
const consoleLog = (d: QemuDriver, inst: Instance) => readFile(d.logPath(inst), 'utf8').catch(() => '');
const qemuProcesses = async () => {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(root)) out.push(Number(p));
  }
  return out;
};

beforeAll(async () => {
  root = await mkdtemp('/tmp/hull-vm-');
  guest = await loadGuest();
  accel = await chooseAccel(guest);
  images = new VmImages(root);
  await images.ensureBuiltin(guest);
});
afterAll(async () => {
  for (const pid of await qemuProcesses()) process.kill(pid, 'SIGKILL');
  await rm(root, { recursive: true, force: true });
});

describe(`QEMU driver (${process.env.HULL_VM_ACCEL ?? 'auto'} accelerator)`, () => {
  it('create → start → console marker → exec → full snapshot → ACPI stop → disk snapshot restore → remove', { timeout: 240_000 }, async () => {
    const d = newDriver();
    const inst = vmInstance('life', { hostname: 'life-vm', vm: { diskBytes: 512 << 20, userScript: 'echo first-boot > /root/first-boot\n' } });
    await d.create(inst);
    const files = d.files(inst);
    expect(existsSync(files.disk)).toBe(true);
    expect((await d.status(inst)).status).toBe('absent');

    const { pid } = await d.start(inst, { layerDirs: [] });
    expect(await processRunning(pid)).toBe(true);
    expect((await d.status(inst)).status).toBe('running');
    await waitFor(async () => (await consoleLog(d, inst)).includes(READY_MARKER), BOOT_MS, 'the readiness marker on the console');
    await d.waitReady(inst, BOOT_MS);

    const uname = await exec(d, inst, ['uname', '-r']);
    expect(uname).toEqual({ code: 0, out: `${guest.kernelRelease}\n` });
    expect((await exec(d, inst, ['sh', '-c', 'cat /root/first-boot; hostname; exit 4'])).code).toBe(4);
    expect((await exec(d, inst, ['cat', '/root/first-boot'])).out).toBe('first-boot\n');
    expect((await d.agentInfo(inst)).hostname).toBe('life-vm');
    // The disk was grown at create and the guest grew its filesystem to match.
    const df = await exec(d, inst, ['sh', '-c', "df -k / | awk 'NR==2 {print $2}'"]);
    expect(Number(df.out)).toBeGreaterThan(400 * 1024);
    const stats = await d.stats(inst);
    expect(stats.memoryUsage).toBeGreaterThan(10 << 20);
    expect(stats.memoryLimit).toBe(256 << 20);
    const top = await d.top(inst);
    expect(top.some((p) => p.command.includes('hull/agent')), JSON.stringify(top)).toBe(true);
    const inspect = await d.inspect(inst);
    expect(inspect.accel?.accel).toBe(accel.accel);

    // The console: attach, type a command, see its output.
    const con = await d.attach(inst);
    let seen = '';
    con.onData((_s, b) => (seen += b.toString()));
    con.write(Buffer.from('\necho con$((6*7))sole\n'));
    await waitFor(async () => seen.includes('con42sole'), 20_000, 'console echo');
    con.close();

    // Full snapshot while running; restore needs force and brings back memory and disk.
    await exec(d, inst, ['sh', '-c', 'echo one > /root/state; echo snap-one > /run/mark; sync']);
    const s1 = await d.snapshotCreate(inst, 'running-one');
    expect(s1).toMatchObject({ name: 'running-one', kind: 'full' });
    expect(s1.vmStateSize).toBeGreaterThan(0);
    await exec(d, inst, ['sh', '-c', 'echo two > /root/state; echo two > /run/mark; sync']);
    const noForce = await d.snapshotRestore(inst, 'running-one').catch((e: unknown) => e);
    expect(isHullError(noForce, 'wrong_state')).toBe(true);
    await d.snapshotRestore(inst, 'running-one', { force: true });
    expect((await d.status(inst)).status).toBe('running');
    expect((await exec(d, inst, ['cat', '/root/state', '/run/mark'])).out).toBe('one\nsnap-one\n');

    // Pause / resume.
    await d.pause(inst);
    expect((await d.status(inst)).status).toBe('paused');
    await d.resume(inst);
    expect((await d.status(inst)).status).toBe('running');

    // Stop: the ACPI power button; the guest powers off by itself, exit 0.
    const t0 = Date.now();
    await d.stop(inst, 60);
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(await d.exitStatus(inst)).toMatchObject({ exitCode: 0 });
    expect(await readFile(join(root, 'exits', inst.id), 'utf8')).toBe('0');
    await d.release(inst);
    expect(await processRunning(pid)).toBe(false);
    expect((await d.status(inst)).status).toBe('stopped');
    expect(existsSync(files.qmp)).toBe(false);

    // Disk-only snapshot while stopped, change the disk, restore, see the old content.
    const s2 = await d.snapshotCreate(inst, 'stopped-two');
    expect(s2).toMatchObject({ kind: 'disk', vmStateSize: 0 });
    await d.start(inst, { layerDirs: [] });
    await d.waitReady(inst, BOOT_MS);
    expect((await exec(d, inst, ['cat', '/root/state'])).out).toBe('one\n');
    await exec(d, inst, ['sh', '-c', 'echo three > /root/state; sync']);
    await d.stop(inst, 60);
    await d.release(inst);
    await d.snapshotRestore(inst, 'stopped-two');
    expect((await d.snapshotList(inst)).map((s) => s.name)).toEqual(['running-one', 'stopped-two']);
    await d.start(inst, { layerDirs: [] });
    await d.waitReady(inst, BOOT_MS);
    expect((await exec(d, inst, ['cat', '/root/state'])).out).toBe('one\n');

    // A full snapshot restored while stopped: the next start resumes its memory (no boot), then it is deleted live.
    await exec(d, inst, ['sh', '-c', 'echo four > /root/state; sync']);
    await d.stop(inst, 0);
    await d.release(inst);
    await d.snapshotRestore(inst, 'running-one');
    await d.start(inst, { layerDirs: [] });
    await d.waitReady(inst, BOOT_MS);
    // /run is a tmpfs: its mark is there only if the memory came back.
    expect((await exec(d, inst, ['sh', '-c', 'cat /root/state; cat /run/mark 2>/dev/null || echo booted'])).out).toBe('one\nsnap-one\n');
    expect(existsSync(files.loadvm)).toBe(false);
    await d.snapshotDelete(inst, 'running-one');
    expect((await d.snapshotList(inst)).map((s) => s.name)).toEqual(['stopped-two']);

    // Kill: a power cut, exit 137. Remove: nothing left.
    await d.kill(inst, 'SIGKILL');
    expect(await d.exitStatus(inst)).toMatchObject({ exitCode: 137 });
    await d.remove(inst);
    expect(existsSync(files.dir)).toBe(false);
    expect(existsSync(join(root, 'exits', inst.id))).toBe(false);
    expect(await qemuProcesses()).toEqual([]);
    await d.close();
  });

  it('a fresh driver re-adopts a running VM by its pidfile and QMP socket, and sees its exit even when nobody watched', { timeout: 180_000 }, async () => {
    const first = newDriver();
    const inst = vmInstance('adopt');
    await first.create(inst);
    const { pid } = await first.start(inst, { layerDirs: [] });
    await first.waitReady(inst, BOOT_MS);
    // The daemon "dies": its connections drop, QEMU keeps going.
    await first.close();
    expect(await processRunning(pid)).toBe(true);

    const second = newDriver();
    expect(await second.exitStatus(inst)).toBeUndefined();
    expect(await second.monitorAlive(inst)).toBe(true);
    expect(await second.status(inst)).toEqual({ status: 'running', pid });
    expect((await exec(second, inst, ['echo', 'adopted'])).out).toBe('adopted\n');
    await second.close();

    // With no Hull attached, the guest powers off: QEMU waits in `shutdown` (-no-shutdown) ...
    const agent = await AgentClient.connect(second.files(inst).agent, { timeoutMs: 10_000 });
    await agent.shutdown();
    await agent.close();
    await waitFor(async () => (await consoleLog(second, inst)).includes('reboot: Power down'), 60_000, 'the guest to power off');
    expect(await processRunning(pid)).toBe(true);
    // ... until the next Hull looks (here through status()), records exit 0 and lets it go.
    const third = newDriver();
    expect(await third.status(inst)).toEqual({ status: 'stopped', pid: 0 });
    expect(await third.exitStatus(inst)).toMatchObject({ exitCode: 0 });
    await waitFor(async () => !(await processRunning(pid)), 10_000, 'QEMU to quit');
    await third.release(inst);
    await third.remove(inst);
    expect(existsSync(third.files(inst).dir)).toBe(false);
    expect(await processRunning(pid)).toBe(false);
  });
});
