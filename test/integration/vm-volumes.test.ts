import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
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

  it('a VM-isolated container gets block volumes as disks of its VM and tmpfs in its guest; local volumes and binds are refused', async () => {
    await d.ok(['volume', 'create', '--driver', 'block', '--size', '32m', 'iv']);
    expect(await d.ok(['run', '--rm', '--isolation', 'vm', '-v', 'iv:/data', '--tmpfs', '/t:size=1m', 'busybox', 'sh', '-c', 'echo in-vm > /data/f; df -k /t | tail -1'], { timeoutMs: 120_000 })).toMatch(/\s1024\s/);
    expect(await run('-v', 'iv:/data', 'busybox', 'cat', '/data/f')).toBe('in-vm\n');
    await d.ok(['run', '-d', '--name', 'iso', '--isolation', 'vm', '-v', 'iv:/data', 'busybox', 'sleep', '300'], { timeoutMs: 120_000 });
    expect((await d.hull(['run', '--rm', '-v', 'iv:/data', 'busybox', 'true'])).stderr).toMatch(/in use by running VM-isolated container iso/);
    await d.ok(['rm', '-f', 'iso'], { timeoutMs: 60_000 });
    expect((await inspect('iv')).holder).toBeUndefined();
    expect((await d.hull(['run', '--rm', '--isolation', 'vm', '-v', 'loc:/x', 'busybox', 'true'])).stderr).toMatch(/local volume loc at \/x: a VM-isolated container takes block volumes and tmpfs only/);
    expect((await d.hull(['run', '--rm', '--isolation', 'vm', '-v', '/tmp:/x', 'busybox', 'true'])).stderr).toMatch(/bind \/tmp at \/x/);
    await d.ok(['volume', 'rm', 'iv']);
    // `loc` was made for the refused container and went with it.
    expect(await d.ok(['volume', 'ls', '-q'])).toBe('');
  }, 300_000);
});
