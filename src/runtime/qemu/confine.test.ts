import { chmod, chown, link, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asUser, freshBindDir, kvmGroups, prepareVmFiles, type QemuUser } from './confine.js';
import { VmFiles } from './files.js';

// Real files as root (chown needs it); the uid is from QemuUids' range, never a running process's.
const U: QemuUser = { uid: 2_000_065_000, gid: 2_000_065_000, groups: [] };
let root: string;
let files: VmFiles;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hull-confine-'));
  await chmod(root, 0o700);
  await mkdir(join(root, 'vms', 'v1'), { recursive: true, mode: 0o700 });
  files = new VmFiles(join(root, 'vms', 'v1'));
  await chown(files.dir, 0, U.gid);
  await chmod(files.dir, 0o710);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const mode = async (p: string) => {
  const st = await lstat(p);
  return [st.uid, st.gid, st.mode & 0o777];
};

describe('confine', () => {
  it('runs a program as the user, without groups, capabilities or a way to gain privileges', () => {
    expect(asUser(U)).toEqual(['setpriv', `--reuid=${U.uid}`, `--regid=${U.gid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--']);
    expect(asUser({ ...U, groups: [993] })).toContain('--groups=993');
    expect(asUser(undefined)).toEqual([]);
  });

  it("gives QEMU its own files, lets it read the VM's config and the shared image, and makes the path there searchable", async () => {
    await writeFile(files.disk, 'disk');
    await writeFile(files.config, 'tar');
    await mkdir(join(root, 'vm-images', 'i1'), { recursive: true, mode: 0o700 });
    const image = join(root, 'vm-images', 'i1', 'disk.qcow2');
    await writeFile(image, 'base', { mode: 0o600 });
    await prepareVmFiles(files, U, { rw: [files.disk, files.consoleLog], ro: [files.config], shared: [image], root });
    expect(await mode(files.disk)).toEqual([U.uid, U.gid, 0o600]);
    expect(await mode(files.consoleLog)).toEqual([U.uid, U.gid, 0o600]); // made, empty
    expect(await mode(files.config)).toEqual([0, U.gid, 0o640]);
    expect((await stat(image)).mode & 0o004).toBe(0o004);
    for (const d of [root, join(root, 'vms'), join(root, 'vm-images'), join(root, 'vm-images', 'i1')]) expect((await stat(d)).mode & 0o001, d).toBe(0o001);
    await freshBindDir(files, U);
    expect(await mode(files.bindDir)).toEqual([U.uid, U.gid, 0o700]);
  });

  it('refuses a link where a file of the VM should be (chown would follow it), and a shared file outside the root', async () => {
    const victim = join(root, 'victim');
    await writeFile(victim, 'root only', { mode: 0o600 });
    await rm(files.consoleLog);
    await symlink(victim, files.consoleLog);
    await expect(prepareVmFiles(files, U, { rw: [files.consoleLog], ro: [], shared: [], root })).rejects.toThrow(/not a regular file of its own/);
    await rm(files.consoleLog);
    await link(victim, files.consoleLog);
    await expect(prepareVmFiles(files, U, { rw: [files.consoleLog], ro: [], shared: [], root })).rejects.toThrow(/not a regular file of its own/);
    expect(await mode(victim)).toEqual([0, 0, 0o600]);
    expect(await readFile(victim, 'utf8')).toBe('root only');
    await rm(files.consoleLog);
    await expect(prepareVmFiles(files, U, { rw: [], ro: [], shared: ['/etc/passwd'], root })).rejects.toThrow(/not under/);
  });

  it('refuses a VM directory that is not root:<gid> as claimed', async () => {
    const other = new VmFiles(join(root, 'vms', 'v2'));
    await mkdir(other.dir, { mode: 0o700 });
    await expect(prepareVmFiles(other, U, { rw: [], ro: [], shared: [], root })).rejects.toThrow(/not the VM's directory/);
  });

  it('reaches /dev/kvm through its group (udev: root:kvm 0660), as anyone where it is 0666, not at all where only root may', async () => {
    const dev = join(root, 'kvm');
    await writeFile(dev, '');
    await chmod(dev, 0o666);
    expect(await kvmGroups(dev)).toEqual([]);
    await chown(dev, 0, 993);
    await chmod(dev, 0o660);
    expect(await kvmGroups(dev)).toEqual([993]);
    await chown(dev, 0, 0);
    expect(await kvmGroups(dev)).toBeUndefined();
    expect(await kvmGroups(join(root, 'none'))).toBeUndefined();
  });
});
