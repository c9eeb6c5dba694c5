import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * Block volumes moving between VMs and containers, one kernel at a time:
 * hot-plugged into a running VM (the guest sees the disk come and go),
 * mounted for a container once the VM has let it go, attached to a second
 * VM at its launch, snapshotted live, and kept across a killed daemon and a
 * VM restart. QEMU under TCG; needs the built guest. Two VMs for the file.
 */
process.env.HULL_VM_ACCEL = 'tcg';
const guestBuilt = existsSync(join(REPO, 'build', 'guest', 'guest.json'));

describe.skipIf(!guestBuilt)('block volumes and VMs (TCG)', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await TestDaemon.start();
  }, 60_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);

  const vmSh = (vm: string, script: string) => d.ok(['vm', 'exec', vm, '--', 'sh', '-c', script], { timeoutMs: 60_000 });
  /** The guest's disk whose serial is the volume's name, or ''. */
  const guestDisk = (vm: string, volume: string) => vmSh(vm, `for b in /sys/block/vd*; do [ "$(cat $b/serial 2>/dev/null)" = "${volume}" ] && echo \${b##*/}; done; true`).then((s) => s.trim());
  const inspect = async (name: string) => JSON.parse(await d.ok(['volume', 'inspect', name]))[0];
  const run = (...args: string[]) => d.ok(['run', '--rm', '--network', 'none', ...args]);

  it('goes from a container to a running VM and back, then to a second VM at its launch; one owner at a time', async () => {
    await d.ok(['volume', 'create', '--driver', 'block', '--size', '64m', 'data2']);
    // First use by a container makes it ext4.
    await run('-v', 'data2:/data', 'busybox', 'sh', '-c', 'echo from-container > /data/c');
    await d.ok(['vm', 'create', '--name', 'db', '--network', 'none']);
    await d.ok(['vm', 'start', '--wait', 'db'], { timeoutMs: 120_000 });
    expect(await guestDisk('db', 'data2')).toBe('');

    // Hot-plugged: the guest sees a new disk, reads what the container wrote, writes its own.
    await d.ok(['vm', 'disk', 'attach', 'db', 'data2']);
    const dev = await waitFor(async () => (await guestDisk('db', 'data2')) || undefined, 30_000, 250);
    expect(dev).toMatch(/^vd[b-z]$/);
    expect(await vmSh('db', `mkdir -p /mnt/v && mount /dev/${dev} /mnt/v && cat /mnt/v/c`)).toBe('from-container\n');
    expect((await inspect('data2')).holder).toMatchObject({ kind: 'vm' });

    // While the VM has it: no container, no rm, no restore.
    const busy = await d.hull(['run', '--rm', '--network', 'none', '-v', 'data2:/data', 'busybox', 'true']);
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toMatch(/block volume data2 is attached to running VM db/);
    expect((await d.hull(['volume', 'rm', 'data2'])).stderr).toMatch(/in use by VM db/);
    // A snapshot taken live, by the VM's QEMU, before the guest writes.
    await d.ok(['volume', 'snapshot', 'create', 'data2', 'before-vm']);
    expect((await d.hull(['volume', 'snapshot', 'restore', 'data2', 'before-vm'])).stderr).toMatch(/in use by running VM db/);
    await vmSh('db', 'echo from-vm > /mnt/v/v && umount /mnt/v');

    // A killed daemon: the attachment and the holder are rebuilt from the records.
    await d.crash();
    await d.spawn();
    expect(await guestDisk('db', 'data2')).toBe(dev);
    expect((await inspect('data2')).holder).toMatchObject({ kind: 'vm' });

    // Detached: the disk goes from the guest; a container may mount it now and reads the VM's bytes.
    await d.ok(['vm', 'disk', 'detach', 'db', 'data2'], { timeoutMs: 90_000 });
    expect(await guestDisk('db', 'data2')).toBe('');
    expect((await inspect('data2')).holder).toBeUndefined();
    expect(await run('--mount', 'type=volume,source=data2,target=/data', 'busybox', 'cat', '/data/c', '/data/v')).toBe('from-container\nfrom-vm\n');

    // The live snapshot brings back the bytes from before the guest wrote.
    await d.ok(['volume', 'snapshot', 'restore', 'data2', 'before-vm']);
    expect(await run('-v', 'data2:/data', 'busybox', 'ls', '/data')).not.toMatch(/\bv\b/);

    // A second VM gets it at launch (vm create --disk-volume), and keeps it across a restart.
    await d.ok(['vm', 'create', '--name', 'db2', '--network', 'none', '--disk-volume', 'data2']);
    await d.ok(['vm', 'start', '--wait', 'db2'], { timeoutMs: 120_000 });
    const dev2 = await guestDisk('db2', 'data2');
    expect(await vmSh('db2', `mkdir -p /mnt/v && mount -o ro /dev/${dev2} /mnt/v && cat /mnt/v/c && umount /mnt/v`)).toBe('from-container\n');
    // db cannot take it back while db2 runs with it.
    expect((await d.hull(['vm', 'disk', 'attach', 'db', 'data2'])).stderr).toMatch(/in use by VM db2/);
    await d.ok(['vm', 'restart', 'db2'], { timeoutMs: 60_000 });
    await d.ok(['vm', 'start', '--wait', 'db2'], { timeoutMs: 120_000 });
    expect(await guestDisk('db2', 'data2')).toBe(dev2);

    // Removing a VM never removes a volume; it lets go of it.
    await d.ok(['vm', 'rm', '-f', 'db2'], { timeoutMs: 60_000 });
    expect((await inspect('data2')).usedBy).toEqual([]);
    await d.ok(['vm', 'disk', 'attach', 'db', 'data2']);
    await waitFor(async () => (await guestDisk('db', 'data2')) || undefined, 30_000, 250);
    await d.ok(['vm', 'rm', '-f', 'db'], { timeoutMs: 60_000 });
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(d.root + '/volumes');
    await d.ok(['volume', 'rm', 'data2']);
  }, 600_000);

  it('a VM-isolated container gets block volumes as disks of its VM and tmpfs in its guest; a socket cannot be bound in', async () => {
    await d.ok(['volume', 'create', '--driver', 'block', '--size', '32m', 'iv']);
    expect(await d.ok(['run', '--rm', '--isolation', 'vm', '-v', 'iv:/data', '--tmpfs', '/t:size=1m', 'busybox', 'sh', '-c', 'echo in-vm > /data/f; df -k /t | tail -1'], { timeoutMs: 120_000 })).toMatch(/\s1024\s/);
    expect(await run('-v', 'iv:/data', 'busybox', 'cat', '/data/f')).toBe('in-vm\n');
    await d.ok(['run', '-d', '--name', 'iso', '--isolation', 'vm', '-v', 'iv:/data', 'busybox', 'sleep', '300'], { timeoutMs: 120_000 });
    expect((await d.hull(['run', '--rm', '-v', 'iv:/data', 'busybox', 'true'])).stderr).toMatch(/in use by running VM-isolated container iso/);
    await d.ok(['rm', '-f', 'iso'], { timeoutMs: 60_000 });
    expect((await inspect('iv')).holder).toBeUndefined();
    // A socket cannot be shared into a VM: refused at create, and the volume made for it goes with it.
    const bad = await d.hull(['run', '--rm', '--isolation', 'vm', '-v', 'loc:/x', '-v', `${d.socket}:/s`, 'busybox', 'true']);
    expect(bad.stderr).toMatch(/bind .*hull\.sock at \/s: a VM-isolated container takes directories and regular files only/);
    await d.ok(['volume', 'rm', 'iv']);
    expect(await d.ok(['volume', 'ls', '-q'])).toBe('');
  }, 300_000);

  it('a VM-isolated container shares local volumes and binds with the host and plain containers (virtiofs); read-only binds stay read-only', async () => {
    const host = await mkdtemp('/tmp/hull-vfs-');
    await writeFile(join(host, 'r'), 'ro-content\n');
    await writeFile(join(host, 'cfg'), 'cfg\n');
    await d.ok(['volume', 'create', 'shared']);
    await run('-v', 'shared:/data', 'busybox', 'sh', '-c', 'echo from-plain > /data/p && chown 1234:5678 /data/p');
    const script = [
      'cat /data/p; stat -c %u:%g /data/p',
      'echo from-vm > /data/v && chown 4321:8765 /data/v',
      'cat /ro/r',
      'echo x > /ro/w 2>/dev/null || echo ro-refused',
      // The guest's root may remount its side read-write: the host's side still refuses.
      'mount -o remount,rw /ro && { echo y > /ro/w 2>/dev/null || echo ro-still-refused; }',
      'echo more >> /etc/cfg',
      // virtiofsd has no CAP_MKNOD: no device node lands in a host directory.
      'mknod /data/blk b 8 0 2>/dev/null || echo mknod-refused',
    ].join('\n');
    const out = await d.ok(['run', '--rm', '--isolation', 'vm', '--network', 'none', '-v', 'shared:/data', '-v', `${host}:/ro:ro`, '-v', `${join(host, 'cfg')}:/etc/cfg`, 'busybox', 'sh', '-c', script], { timeoutMs: 120_000 });
    expect(out).toBe('from-plain\n1234:5678\nro-content\nro-refused\nro-still-refused\nmknod-refused\n');
    expect(await run('-v', 'shared:/data', 'busybox', 'sh', '-c', 'cat /data/v; stat -c %u:%g /data/v; ls /data')).toBe('from-vm\n4321:8765\np\nv\n');
    expect(await readFile(join(host, 'cfg'), 'utf8')).toBe('cfg\nmore\n');
    expect((await readdir(host)).sort()).toEqual(['cfg', 'r']);
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(`${d.root}/binds`);
    await rm(host, { recursive: true, force: true });
  }, 300_000);

  it("fills a VM-isolated container's empty named volume from its image at create, as a plain container's", async () => {
    const out = await d.ok(['run', '--rm', '--isolation', 'vm', '--network', 'none', '-v', 'isoetc:/etc', 'busybox', 'sh', '-c', 'head -1 /etc/group; stat -c %u:%a /etc/passwd'], { timeoutMs: 120_000 });
    expect(out).toBe('root:x:0:\n0:644\n');
    expect(await run('-v', 'isoetc:/x', 'busybox', 'sh', '-c', 'head -1 /x/passwd')).toBe('root:x:0:0:root:/root:/bin/sh\n');
    // Not empty any more: a second isolated container finds it as it was left, not copied over.
    await run('-v', 'isoetc:/x', 'busybox', 'sh', '-c', 'echo mine > /x/group');
    expect(await d.ok(['run', '--rm', '--isolation', 'vm', '--network', 'none', '-v', 'isoetc:/etc', 'busybox', 'cat', '/etc/group'], { timeoutMs: 120_000 })).toBe('mine\n');
    await d.ok(['volume', 'rm', 'isoetc']);
  }, 300_000);

  it("a share's virtiofsd is sandboxed in it: symlinks from the guest or the host, and a swapped bind source, stay inside", async () => {
    const host = await mkdtemp('/tmp/hull-vfs-');
    await writeFile(join(host, 'b'), 'bound\n');
    const secret = await mkdtemp('/tmp/hull-secret-');
    await writeFile(join(secret, 's'), 'TOPSECRET\n');
    const id = (await d.ok(['run', '-d', '--name', 'vfs', '--isolation', 'vm', '--network', 'none', '-v', 'shared:/data', '-v', `${host}:/bound`, 'busybox', 'sleep', '300'], { timeoutMs: 120_000 })).trim();
    const data = (await inspect('shared')).mountpoint as string;
    await mkdir(join(data, 'd'));
    await writeFile(join(data, 'd', 's'), 'ok\n');
    expect(await d.ok(['exec', 'vfs', 'cat', '/data/d/s'])).toBe('ok\n');

    // From the host: the server (virtiofsd's sandboxed child) has the share as its root and only mount,
    // seccomp on, no_new_privs, an empty bounding set, and neither CAP_MKNOD nor CAP_SYS_ADMIN.
    const parent = Number(await readFile(join(d.root, 'ivm', id, 'vfs0.pid'), 'utf8'));
    const child = Number((await readFile(`/proc/${parent}/task/${parent}/children`, 'utf8')).trim());
    expect((await readdir(`/proc/${child}/root`)).sort()).toEqual((await readdir(data)).sort());
    expect((await readFile(`/proc/${child}/mountinfo`, 'utf8')).trim().split('\n')).toHaveLength(1);
    const status = await readFile(`/proc/${child}/status`, 'utf8');
    expect(status).toMatch(/^Seccomp:\s+2$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(/^CapBnd:\s+0+$/m);
    const eff = BigInt(`0x${/^CapEff:\s+(\w+)$/m.exec(status)![1]}`);
    expect(eff & (1n << 27n)).toBe(0n); // CAP_MKNOD
    expect(eff & (1n << 21n)).toBe(0n); // CAP_SYS_ADMIN

    // The host swaps a directory the guest has looked up for a link out, plants a relative one, and
    // swaps the bind's source for a link to the secret: none of it reaches the host's files.
    await rename(join(data, 'd'), join(data, 'd.old'));
    await symlink(secret, join(data, 'd'));
    await symlink(`${'../'.repeat(12)}${secret.slice(1)}`, join(data, 'rel'));
    await rename(host, `${host}.moved`);
    await symlink(secret, host);
    const probe = ['sleep 1.2', 'cat /data/d/s /data/rel/s', 'ln -s / /data/up && cat /data/up/' + secret.slice(1) + '/s', 'cat /bound/b', 'true'].join('; ');
    const r = await d.hull(['exec', 'vfs', 'sh', '-c', probe], { timeoutMs: 60_000 });
    expect(r.stdout + r.stderr).not.toContain('TOPSECRET');
    expect(r.stdout).toBe('bound\n');
    expect(r.stderr).toMatch(/can't open '\/data\/d\/s'/);
    expect(await readlink(join(data, 'up'))).toBe('/');

    await d.ok(['rm', '-f', 'vfs'], { timeoutMs: 60_000 });
    // Gone (a zombie not yet reaped has no command line).
    for (const pid of [parent, child]) expect(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).toBe('');
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(`${d.root}/binds`);
    await rm(host, { force: true });
    await rm(`${host}.moved`, { recursive: true, force: true });
    await rm(secret, { recursive: true, force: true });
  }, 300_000);

  it("a VM-isolated container's last writes are on its disk when it has exited", async () => {
    // The program's last act is the write; the guest powers off right after the exit report.
    const prog = 'if [ -f /f.md5 ]; then echo found; exec sleep 300; fi; echo writing; head -c 4000000 /dev/urandom > /f; md5sum /f > /f.md5';
    await d.ok(['run', '-d', '--name', 'syncer', '--isolation', 'vm', '--network', 'none', 'busybox', 'sh', '-c', prog], { timeoutMs: 120_000 });
    expect((await d.ok(['wait', 'syncer'], { timeoutMs: 120_000 })).trim()).toBe('0');
    await d.ok(['start', 'syncer'], { timeoutMs: 120_000 });
    await waitFor(async () => ((await d.ok(['logs', 'syncer'])).split('\n').length > 2 ? true : undefined), 60_000, 250);
    expect(await d.ok(['logs', 'syncer'])).toBe('writing\nfound\n');
    expect(await d.ok(['exec', 'syncer', 'md5sum', '-c', '/f.md5'])).toBe('/f: OK\n');
    await d.ok(['rm', '-f', 'syncer'], { timeoutMs: 60_000 });
  }, 300_000);
});
