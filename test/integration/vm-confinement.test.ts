import { existsSync } from 'node:fs';
import { chmod, chown, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shortId } from '../../src/core/ids.js';
import { DEFAULT_CLAIMS, QEMU_UID_BASE, QEMU_UID_COUNT } from '../../src/runtime/qemu/uids.js';
import { run } from '../../src/sys/run.js';
import { REPO, TestDaemon } from '../helpers/hull.js';

/**
 * What a VM's QEMU may do on the host, checked from the host: a uid of its
 * own (not root), no capabilities, no_new_privs, QEMU's seccomp sandbox with
 * every group denied, and no way into another VM's files or processes. TCG;
 * needs the built guest.
 */
process.env.HULL_VM_ACCEL = 'tcg';
const guestBuilt = existsSync(join(REPO, 'build', 'guest', 'guest.json'));

interface Confinement {
  uid: number;
  status: Record<string, string>;
  cmdline: string[];
}

async function confinement(pid: number): Promise<Confinement> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const status = Object.fromEntries(text.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  return { uid: Number(status.Uid.split(/\s+/)[0]), status, cmdline };
}

function expectConfined(c: Confinement): void {
  expect(c.uid).toBeGreaterThanOrEqual(QEMU_UID_BASE);
  expect(c.uid).toBeLessThan(QEMU_UID_BASE + QEMU_UID_COUNT);
  // Real, effective, saved and filesystem ids alike: nothing to switch back to.
  expect(c.status.Uid.split(/\s+/)).toEqual(Array(4).fill(String(c.uid)));
  expect(c.status.Gid.split(/\s+/)).toEqual(Array(4).fill(String(c.uid)));
  expect(c.status.Groups).toBe('');
  for (const k of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(c.status[k], k).toBe('0000000000000000');
  expect(c.status.NoNewPrivs).toBe('1');
  expect(c.status.Seccomp).toBe('2');
  expect(c.cmdline[c.cmdline.indexOf('-sandbox') + 1]).toBe('on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny');
  expect(c.cmdline).not.toContain('-daemonize');
}

/** Run `argv` on the host as `uid` (what a QEMU broken into could do), without failing on a non-zero exit. */
const as = (uid: number, argv: string[]) => run(['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', ...argv], { allowFailure: true });

describe.skipIf(!guestBuilt)('QEMU confinement (TCG)', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await TestDaemon.start();
  }, 60_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);

  const inspectVm = async (name: string) => JSON.parse(await d.ok(['vm', 'inspect', name]))[0] as { id: string; vm: { qemuPid: number; dir: string; user: { uid: number } } };

  it('each VM runs QEMU as a uid of its own, without capabilities, sandboxed; one cannot reach the other; a VM from before keeps working', async () => {
    await d.ok(['network', 'create', 'cfnet', '--subnet', '10.231.61.0/24']);
    const idA = (await d.ok(['vm', 'create', '--name', 'cfa', '--memory', '256m', '--network', 'none'])).trim();
    await d.ok(['vm', 'create', '--name', 'cfb', '--memory', '256m', '--network', 'cfnet']);
    // cfa as the code before this change left a VM: everything root's, directories 0700.
    const dirA = join(d.root, 'vms', idA);
    for (const f of await readdir(dirA)) await chown(join(dirA, f), 0, 0);
    await chown(dirA, 0, 0);
    await chmod(dirA, 0o700);
    await chmod(join(d.root, 'vms'), 0o700);

    await Promise.all(['cfa', 'cfb'].map((n) => d.ok(['vm', 'start', '--wait', n], { timeoutMs: 150_000 })));
    const [a, b] = [await inspectVm('cfa'), await inspectVm('cfb')];
    const [ca, cb] = [await confinement(a.vm.qemuPid), await confinement(b.vm.qemuPid)];
    expectConfined(ca);
    expectConfined(cb);
    expect(ca.uid).not.toBe(cb.uid);
    expect([a.vm.user.uid, b.vm.user.uid]).toEqual([ca.uid, cb.uid]); // inspect says who QEMU runs as

    // The VM's directory: root's, entered by its own QEMU only; the files QEMU writes are its own.
    const st = await stat(a.vm.dir);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([0, ca.uid, 0o710]);
    expect(((await stat(join(a.vm.dir, 'disk.qcow2'))).uid)).toBe(ca.uid);
    expect(await readFile(join(DEFAULT_CLAIMS, String(ca.uid)), 'utf8')).toBe(`${a.vm.dir}\n`);
    // b's tap is b's QEMU's: no other uid can attach to it.
    const tap = `ht${shortId(b.id)}0`;
    expect((await run(['ip', '-d', 'link', 'show', tap])).stdout).toMatch(new RegExp(`tun type tap .*user ${cb.uid}\\b`));

    // What a QEMU broken into could try, as its uid: the other VM's disk and process, its own directory's entries.
    const readOther = await as(ca.uid, ['cat', join(b.vm.dir, 'disk.qcow2')]);
    expect(readOther.code).not.toBe(0);
    expect(readOther.stderr).toMatch(/Permission denied/);
    expect((await as(ca.uid, ['kill', '-0', String(b.vm.qemuPid)])).stderr).toMatch(/Operation not permitted/);
    expect((await as(ca.uid, ['touch', join(a.vm.dir, 'vm.json')])).stderr).toMatch(/Permission denied/);
    expect((await as(ca.uid, ['ln', '-sf', '/etc/shadow', join(a.vm.dir, 'exit.json')])).stderr).toMatch(/Permission denied/);

    // Everything still works: exec, a full snapshot taken and restored while running, the console's log.
    expect((await d.ok(['vm', 'exec', 'cfa', '--', 'hostname'])).trim()).toBe('cfa');
    await d.ok(['vm', 'exec', 'cfa', '--', 'sh', '-c', 'echo before > /root/mark']);
    await d.ok(['vm', 'snapshot', 'create', 'cfa', 's1'], { timeoutMs: 120_000 });
    await d.ok(['vm', 'exec', 'cfa', '--', 'sh', '-c', 'echo after > /root/mark']);
    await d.ok(['vm', 'snapshot', 'restore', '--force', 'cfa', 's1'], { timeoutMs: 120_000 });
    expect(await d.ok(['vm', 'exec', 'cfa', '--', 'cat', '/root/mark'])).toBe('before\n');
    expect((await d.hull(['logs', 'cfa'])).stdout).toContain('HULL_GUEST_READY');

    await d.ok(['vm', 'rm', '-f', 'cfa', 'cfb'], { timeoutMs: 60_000 });
    expect(await readFile(join(DEFAULT_CLAIMS, String(ca.uid)), 'utf8').catch(() => '')).not.toBe(`${a.vm.dir}\n`);
  }, 300_000);

  it("qemu-img reads a VM's disk as the VM's uid: a backing file the disk names that only root may read stays closed", async () => {
    const id = (await d.ok(['vm', 'create', '--name', 'cfs', '--memory', '256m', '--network', 'none'])).trim();
    expect(await d.ok(['vm', 'snapshot', 'ls', 'cfs'])).not.toContain('s1');
    // What a QEMU broken into could write into its own disk's header: a backing file of root's.
    const secret = join(d.root, 'secret');
    await run(['mkdir', '-m', '0700', secret]);
    await run(['qemu-img', 'create', '-q', '-f', 'qcow2', join(secret, 'root-only.qcow2'), '1M']);
    await run(['qemu-img', 'rebase', '-u', '-f', 'qcow2', '-b', join(secret, 'root-only.qcow2'), '-F', 'qcow2', join(d.root, 'vms', id, 'disk.qcow2')]);
    const r = await d.hull(['vm', 'snapshot', 'create', 'cfs', 's1']); // qemu-img snapshot -c opens the backing chain
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/root-only\.qcow2.*Permission denied/);
    await d.ok(['vm', 'rm', 'cfs']);
  }, 60_000);

  it('a VM-isolated container runs its QEMU confined the same way', async () => {
    await d.ok(['run', '-d', '--name', 'cfi', '--isolation', 'vm', 'busybox', 'sleep', '600'], { timeoutMs: 120_000 });
    const [insp] = JSON.parse(await d.ok(['inspect', 'cfi'])) as Array<{ vm: { qemuPid: number; dir: string } }>;
    const c = await confinement(insp.vm.qemuPid);
    expectConfined(c);
    expect((await stat(insp.vm.dir)).gid).toBe(c.uid);
    expect(await d.ok(['exec', 'cfi', 'echo', 'hi'], { timeoutMs: 60_000 })).toBe('hi\n');
    await d.ok(['rm', '-f', 'cfi'], { timeoutMs: 60_000 });
  }, 180_000);
});
