import { describe, expect, it } from 'vitest';
import { guestMounts } from './isolated-driver.js';
import { guestShareScript, shareArgs, virtiofsdArgv } from './virtiofs.js';
import { machineArgs } from './machine.js';

describe('virtiofs shares', () => {
  it('gives virtiofsd its sandbox, no device nodes, no xattrs, and refuses a path its option syntax would split', () => {
    const argv = virtiofsdArgv('/r/ivm/x/vfs0.sock', '/r/binds/x/0', 20000);
    expect(argv).toEqual(expect.arrayContaining(['--socket-path=/r/ivm/x/vfs0.sock', 'source=/r/binds/x/0', 'sandbox=namespace', 'no_xattr', 'modcaps=-mknod:-setfcap', '--rlimit-nofile=20000']));
    expect(() => virtiofsdArgv('/s', '/r/a,b', 1)).toThrow(/comma/);
  });

  it('puts one vhost-user-fs card per share on its socket, and the guest RAM in a shared memfd', () => {
    const share = { source: '/r/binds/x/0', target: '/data', readOnly: false, file: false };
    expect(shareArgs('/r/ivm/x', [share, share])).toEqual([
      '-chardev', 'socket,id=vfs0,path=/r/ivm/x/vfs0.sock', '-device', 'vhost-user-fs-pci,chardev=vfs0,tag=hv0',
      '-chardev', 'socket,id=vfs1,path=/r/ivm/x/vfs1.sock', '-device', 'vhost-user-fs-pci,chardev=vfs1,tag=hv1',
    ]);
    const m = machineArgs({ accel: 'tcg', memoryBytes: 256 * 1024 * 1024, cpus: 1, name: 'c', sharedMemory: true });
    expect(m).toEqual(expect.arrayContaining(['q35,vmport=off,memory-backend=mem', 'memory-backend-memfd,id=mem,size=256M,share=on']));
    expect(machineArgs({ accel: 'tcg', memoryBytes: 256 * 1024 * 1024, cpus: 1, name: 'c' }).join(' ')).not.toContain('memory-backend');
  });

  it('mounts a directory at its target, a file through a hidden mount, read-only when asked, with quoted targets', () => {
    expect(guestShareScript({ source: '', target: "/it's", readOnly: true, file: false }, 'hv0')).toBe(`mkdir -p '/newroot/it'\\''s' && mount -t virtiofs -o ro hv0 '/newroot/it'\\''s' || exit 125\n`);
    const f = guestShareScript({ source: '', target: '/etc/app.conf', readOnly: false, file: true }, 'hv1');
    expect(f).toContain('mount -t virtiofs hv1 /run/hull/fs/hv1 ||');
    expect(f).toContain("mount --bind /run/hull/fs/hv1/f '/newroot/etc/app.conf'");
  });

  it('mounts a parent before what is mounted inside it, whatever kind each is', () => {
    const script = guestMounts({
      disks: [{ volumeId: 'a'.repeat(64), name: 'blk', path: '/d', format: 'qcow2', target: '/data/db' }],
      mounts: [{ destination: '/data/db/tmp', source: 'tmpfs', type: 'tmpfs', options: ['size=1m'] }],
      shares: [{ source: '/s', target: '/data', readOnly: false, file: false }],
    });
    const at = (s: string) => script.indexOf(s);
    expect(at("mount -t virtiofs hv0 '/newroot/data'")).toBeGreaterThanOrEqual(0);
    expect(at("mount -t virtiofs hv0 '/newroot/data'")).toBeLessThan(at("'/newroot/data/db'"));
    expect(at("'/newroot/data/db' ||")).toBeLessThan(at("'/newroot/data/db/tmp'"));
  });
});
