import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * Hull's secure defaults and docker's knobs around them (docs/security.md),
 * on both runtimes: podman's capabilities, ping without NET_RAW, --cap-add
 * and --cap-drop, --device, --security-opt seccomp=, --privileged, one
 * device list (no /dev/net/tun) whichever runtime runs the container, and
 * user namespaces: a range of host ids per container, the image's files its
 * root's, exec, and a daemon root under a 0700 directory.
 */

let d: TestDaemon;
let work: string;
beforeAll(async () => {
  d = await TestDaemon.start();
  work = await mkdtemp(join(tmpdir(), 'hull-sec-'));
});
afterAll(async () => {
  await d?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

const status = (out: string, key: string) => new RegExp(`^${key}:\\s+(\\S+)`, 'm').exec(out)?.[1];
const PODMAN_CAPS = '00000000800405fb';

/** iputils ping (unprivileged ICMP sockets; busybox's ping only does raw ones) and its libraries, copied without file capabilities. */
async function iputilsPing(): Promise<string | undefined> {
  if (!existsSync('/usr/bin/ping')) return undefined;
  const root = join(work, 'iputils');
  const files = ['/usr/bin/ping', ...execFileSync('ldd', ['/usr/bin/ping'], { encoding: 'utf8' }).match(/\/\S+/g)!];
  for (const f of files) {
    await mkdir(join(root, dirname(f)), { recursive: true });
    await copyFile(f, join(root, f)); // plain copy: the host's cap_net_raw=ep stays behind
  }
  return root;
}

describe.each(['crun', 'runc'])('%s', (rt) => {
  const run = (args: string[], cmd: string) => d.hull(['run', '--rm', '--runtime', rt, ...args, 'busybox', 'sh', '-c', cmd]);

  it("gives podman's capabilities (no NET_RAW, MKNOD, AUDIT_WRITE); --cap-add and --cap-drop as docker's", async () => {
    const gw = `$(ip -4 route | awk '/default/ {print $3}')`;
    const r = await run([], `grep Cap /proc/self/status; ping -c1 -W1 127.0.0.1 2>&1 | tail -1; arping -c1 -w1 -I eth0 ${gw} 2>&1 | tail -1`);
    expect(status(r.stdout, 'CapEff')).toBe(PODMAN_CAPS);
    expect(status(r.stdout, 'CapBnd')).toBe(PODMAN_CAPS);
    expect(r.stdout).toContain('ping: permission denied (are you root?)'); // busybox ping wants a raw socket
    expect(r.stdout).toContain('arping: socket: Operation not permitted'); // no ARP forged on the shared bridge
    const raw = await run(['--cap-add', 'net_raw'], 'ping -c1 -W1 127.0.0.1 >/dev/null && echo pong');
    expect(raw.stdout).toBe('pong\n');
    expect(status((await run(['--cap-drop', 'ALL'], 'grep CapEff /proc/self/status')).stdout, 'CapEff')).toBe('0000000000000000');
    expect(status((await run(['--cap-drop', 'ALL', '--cap-add', 'CAP_KILL'], 'grep CapEff /proc/self/status')).stdout, 'CapEff')).toBe('0000000000000020');
    expect(status((await run(['--cap-drop', 'chown'], 'grep CapEff /proc/self/status')).stdout, 'CapEff')).toBe('00000000800405fa');
    const bad = await run(['--cap-add', 'FLY'], 'true');
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('invalid --cap-add: unknown capability "FLY"');
  });

  it('keeps /dev/net/tun closed: not made with MKNOD, not opened even without seccomp, not opened from the rootfs', async () => {
    const script = 'mkdir -p /dev/net; mknod /dev/net/tun c 10 200; echo mknod=$?; cat /dev/net/tun; echo tun=$?';
    const r = await run(['--cap-add', 'MKNOD'], script);
    expect(r.stdout).toContain('mknod=1\n'); // the seccomp profile refuses a node the device cgroup would not open
    expect(r.stderr).toContain('mknod: /dev/net/tun: Operation not permitted');
    // Without seccomp the node is made, and the device cgroup refuses to open it: runc's own
    // rule allows c 10:200, so this is the runc hole (the open succeeds, then reads fail with EBADFD).
    const open = await run(['--cap-add', 'MKNOD', '--security-opt', 'seccomp=unconfined'], `${script}; mknod /tun c 10 200; cat /tun; echo rootfs=$?`);
    expect(open.stdout).toContain('mknod=0\n');
    expect(open.stderr).toContain("cat: can't open '/dev/net/tun': Operation not permitted");
    expect(open.stdout).toContain('tun=1\n');
    // A node on the rootfs: runc keeps the overlay's nodev (EACCES); crun remounts the rootfs
    // without it, and its device cgroup refuses (EPERM).
    expect(open.stderr).toMatch(/cat: can't open '\/tun': (Permission denied|Operation not permitted)/);
    expect(open.stdout).toContain('rootfs=1\n');
    // Asked for, it opens (and fails at the first read without TUNSETIFF).
    const given = await run(['--device', '/dev/net/tun'], 'cat /dev/net/tun');
    expect(given.stderr).toContain('File descriptor in bad state');
  });

  it('--device gives a host node where asked, with the permissions asked', async () => {
    // loop-control is on no default list: only what --device allows (here r) opens.
    const r = await run(['--device', '/dev/loop-control:/dev/lc:r'], 'ls -l /dev/lc | cut -c1; (exec 3</dev/lc) && echo read=ok; (exec 4>/dev/lc); echo write=$?');
    expect(r.stdout).toMatch(/^c\nread=ok\nwrite=[1-9]/);
    expect(r.stderr).toContain("can't create /dev/lc: Operation not permitted");
    const none = await run([], 'ls /dev/lc /dev/loop-control 2>&1 | wc -l');
    expect(none.stdout).toBe('2\n');
    const missing = await run(['--device', '/dev/nosuchdevice'], 'true');
    expect(missing.code).toBe(125);
    expect(missing.stderr).toContain('--device /dev/nosuchdevice: no such device on the host');
    const notDev = await run(['--device', '/etc/passwd'], 'true');
    expect(notDev.stderr).toContain('--device /etc/passwd: not a character or block device');
  });

  it('--security-opt seccomp=PROFILE.json applies the profile; unconfined has none; a bad profile is refused', async () => {
    const profile = join(work, 'no-mkdir.json');
    await writeFile(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }));
    const r = await run(['--security-opt', `seccomp=${profile}`], 'grep Seccomp: /proc/self/status; mkdir /tmp/x; echo mkdir=$?');
    expect(r.stdout).toMatch(/Seccomp:\s+2\nmkdir=1\n/);
    expect((await run(['--security-opt', 'seccomp=unconfined'], 'grep Seccomp: /proc/self/status')).stdout).toMatch(/Seccomp:\s+0/);
    const bad = join(work, 'bad.json');
    await writeFile(bad, JSON.stringify({ defaultAction: 'SCMP_ACT_NOTIFY' }));
    const refused = await run(['--security-opt', `seccomp=${bad}`], 'true');
    expect(refused.code).toBe(125);
    expect(refused.stderr).toContain('SCMP_ACT_NOTIFY needs a seccomp listener');
  });

  it('--privileged: every capability the daemon holds, host devices, no seccomp, no masked paths, /sys writable', async () => {
    const held = /^CapBnd:\s+(\S+)/m.exec(execFileSync('cat', ['/proc/self/status'], { encoding: 'utf8' }))![1];
    const r = await run(['--privileged'], 'grep -E "CapEff|Seccomp:" /proc/self/status; ls /dev/loop-control; echo timer=$(wc -c < /proc/timer_list); grep " /sys " /proc/self/mountinfo | cut -d" " -f6');
    expect(status(r.stdout, 'CapEff')).toBe(held);
    expect(status(r.stdout, 'Seccomp')).toBe('0');
    expect(r.stdout).toContain('/dev/loop-control\n');
    expect(Number(/timer=(\d+)/.exec(r.stdout)![1])).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/\nrw,/);
    const userns = await run(['--privileged', '--userns'], 'true');
    expect(userns.code).toBe(125);
    expect(userns.stderr).toContain('--privileged and --userns cannot be used together');
  });
});

describe('ping without NET_RAW', () => {
  it('works for root and any user through the unprivileged ICMP socket (iputils ping), on both runtimes, with --userns too', async () => {
    const iputils = await iputilsPing();
    if (!iputils) return expect.fail('/usr/bin/ping (iputils-ping) is missing on the host: run HULL_SETUP_TEST=1 scripts/setup.sh');
    for (const [rt, ...flags] of [['crun'], ['runc'], ['crun', '--userns'], ['runc', '--userns']]) {
      await d.ok(['run', '-d', '--name', `ping-${rt}`, '--runtime', rt, ...flags, 'busybox', 'sleep', '60']);
      for (const dir of ['usr', 'lib', 'lib64']) if (existsSync(join(iputils, dir))) await d.ok(['cp', join(iputils, dir), `ping-${rt}:/`]);
      const gw = (await d.ok(['exec', `ping-${rt}`, 'sh', '-c', "ip -4 route | awk '/default/ {print $3}'"])).trim();
      for (const user of ['0', '65534']) {
        const r = await d.hull(['exec', '-u', user, `ping-${rt}`, '/usr/bin/ping', '-c1', '-W2', gw]);
        expect(r.stdout, `${rt} ${flags.join(' ')} as ${user}: ${r.stderr}`).toContain('1 received');
      }
      await d.ok(['rm', '-f', `ping-${rt}`]);
    }
  });
});

/** POST a JSON body to the daemon's API (50 creates at once without 50 CLI processes). */
function api(socket: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request({ socketPath: socket, method, path, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} }, (res) => {
      let text = '';
      res.on('data', (b: Buffer) => (text += b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

const uidMap = (out: string) => out.trim().split('\n')[0].trim().split(/\s+/).map(Number);

describe.each(['crun', 'runc'])('user namespaces, %s', (rt) => {
  it("gives each container its own host range, its root the image's files, and exec", async () => {
    await d.ok(['run', '-d', '--name', `u1-${rt}`, '--runtime', rt, '--userns', 'busybox', 'sleep', '60']);
    await d.ok(['run', '-d', '--name', `u2-${rt}`, '--runtime', rt, '--userns', 'busybox', 'sleep', '60']);
    // exec works on both runtimes (runc before 1.2.1 could not join a network namespace its user namespace does not own).
    const m1 = uidMap(await d.ok(['exec', `u1-${rt}`, 'cat', '/proc/self/uid_map']));
    const m2 = uidMap(await d.ok(['exec', `u2-${rt}`, 'cat', '/proc/self/uid_map']));
    expect(m1[0]).toBe(0);
    expect(m1[2]).toBe(65536);
    expect(Math.abs(m1[1] - m2[1])).toBeGreaterThanOrEqual(65536); // disjoint ranges
    const hostUids = execFileSync('ps', ['-o', 'uid=', '-C', 'sleep'], { encoding: 'utf8' }).split('\n').map((x) => Number(x.trim()));
    expect(hostUids).toEqual(expect.arrayContaining([m1[1], m2[1]]));
    // The image's files are its root's: it can change them (they stay the image's for everyone else).
    const own = await d.ok(['exec', `u1-${rt}`, 'sh', '-c', 'stat -c %u:%g /bin/busybox /etc/passwd; echo me:x:5:5::/:/bin/sh >> /etc/passwd && rm /etc/group && echo changed; ip -4 -o addr show eth0 | wc -l']);
    expect(own).toBe('0:0\n0:0\nchanged\n1\n');
    expect(await d.ok(['exec', `u2-${rt}`, 'sh', '-c', 'tail -1 /etc/passwd; ls /etc/group'])).not.toContain('me:x');
    // The host's /dev/null is no container's: crun < 1.24 fchowns the stdio it is given (conmon's
    // /dev/null without -i) to the container's user, and that user's root could then chmod it host-wide.
    await d.ok(['exec', '-u', '4321', `u1-${rt}`, 'true']);
    let devNull: string[];
    try {
      expect(await d.ok(['exec', `u2-${rt}`, 'sh', '-c', 'chmod 600 /dev/null; echo done'])).toBe('done\n');
    } finally {
      devNull = execFileSync('stat', ['-c', '%u %a', '/dev/null'], { encoding: 'utf8' }).trim().split(' ');
      // Should this fail, the machine must not stay without a usable /dev/null.
      execFileSync('chmod', ['666', '/dev/null']);
    }
    expect(Number(devNull[0])).not.toBe(m2[1]);
    expect(Number(devNull[0])).not.toBe(4321);
    expect(devNull[1]).toBe('666');
    // What hull cp puts in is its root's too.
    await writeFile(join(work, `cp-${rt}`), 'in\n');
    await d.ok(['cp', join(work, `cp-${rt}`), `u1-${rt}:/tmp/`]);
    expect(await d.ok(['exec', `u1-${rt}`, 'stat', '-c', '%u:%g', `/tmp/cp-${rt}`])).toBe('0:0\n');
    await d.ok(['rm', '-f', `u1-${rt}`, `u2-${rt}`]);
  });
});

describe('user namespace ranges', () => {
  it('gives 50 containers created at once 50 different ranges, freed at rm', async () => {
    const created = await Promise.all(Array.from({ length: 50 }, () => api(d.socket, 'POST', '/v1/containers', { image: 'busybox', cmd: ['true'], userns: true, networks: ['none'] })));
    for (const c of created) expect(c.status, JSON.stringify(c.json)).toBe(201);
    const maps = await Promise.all(created.map(async (c) => (await api(d.socket, 'GET', `/v1/containers/${c.json.id}`)).json.config.idMap));
    expect(new Set(maps.map((m: { hostUid: number }) => m.hostUid)).size).toBe(50);
    expect(new Set(maps.map((m: { hostGid: number }) => m.hostGid)).size).toBe(50);
    await d.ok(['rm', ...created.map((c) => c.json.id)]);
    const again = await api(d.socket, 'POST', '/v1/containers', { image: 'busybox', cmd: ['true'], userns: true, networks: ['none'] });
    expect((await api(d.socket, 'GET', `/v1/containers/${again.json.id}`)).json.config.idMap.hostUid).toBe(100000); // the first range is free again
    await d.ok(['rm', again.json.id]);
  });

  it('start when the daemon root sits under a 0700 directory, on both runtimes', async () => {
    const parent = await mkdtemp('/tmp/hull-');
    await mkdir(join(parent, 'p'), { mode: 0o700 });
    await chmod(join(parent, 'p'), 0o700);
    const root = join(parent, 'p', 'r');
    const priv = new TestDaemon(root, join(root, 'hull.sock'));
    try {
      await priv.spawn();
      for (const rt of ['crun', 'runc']) {
        expect(await priv.ok(['run', '--rm', '--runtime', rt, '--userns', 'busybox', 'sh', '-c', 'id -u; cat /etc/hostname >/dev/null && echo files'])).toBe('0\nfiles\n');
        await priv.ok(['run', '-d', '--name', `x-${rt}`, '--runtime', rt, '--userns', 'busybox', 'sleep', '60']);
        expect(await priv.ok(['exec', `x-${rt}`, 'id', '-u'])).toBe('0\n');
      }
    } finally {
      await priv.destroy();
      await rm(parent, { recursive: true, force: true });
    }
    expect(execFileSync('cat', ['/proc/self/mountinfo'], { encoding: 'utf8' })).not.toContain(parent); // nothing left mounted
  });
});

/** A loop-mounted filesystem of `type` for a daemon root, or why not (mkfs missing, the kernel refusing the options). */
async function loopFs(type: 'btrfs' | 'xfs', options: string): Promise<{ dir: string; undo: () => Promise<void> } | string> {
  const dir = await mkdtemp('/tmp/hull-');
  const image = `${dir}.img`;
  const sh = (argv: string[]) => execFileSync(argv[0], argv.slice(1), { stdio: 'pipe' });
  const undo = async () => {
    try {
      sh(['umount', dir]);
    } catch {
      // not mounted
    }
    await rm(dir, { recursive: true, force: true });
    await rm(image, { force: true });
  };
  try {
    sh(['truncate', '-s', '320M', image]);
    sh([`mkfs.${type}`, '-q', image]);
    sh(['mount', '-o', `loop${options ? `,${options}` : ''}`, image, dir]);
    return { dir, undo };
  } catch (e) {
    await undo();
    return `${type} -o ${options || 'defaults'} cannot be mounted here: ${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n')[0]}`;
  }
}

const usedMiB = (dir: string) => Number(execFileSync('df', ['-m', '--output=used', dir], { encoding: 'utf8' }).split('\n')[1].trim());

describe('--storage-opt size (the writable layer)', () => {
  it('is refused, saying why, where the filesystem under the root cannot enforce it; hull info says so too', async () => {
    const fs = execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', d.root], { encoding: 'utf8' }).trim();
    const info = JSON.parse(await d.ok(['info', '--format', 'json']));
    expect(info.storage.filesystem).toBe(fs);
    if (fs === 'ext4' || fs === 'tmpfs') {
      expect(info.storage.sizeLimits).toBeNull();
      expect(info.storage.reason).toMatch(/cannot limit one directory's size: use xfs mounted with prjquota, or btrfs/);
      expect(await d.ok(['info'])).toMatch(/Storage limits: {3}no: \S+ at \S+ cannot limit/);
      const r = await d.hull(['run', '--rm', '--storage-opt', 'size=10m', 'busybox', 'true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain('--storage-opt size is not supported here');
      const bad = await d.hull(['run', '--rm', '--storage-opt', 'inodes=10', 'busybox', 'true']);
      expect(bad.stderr).toContain('unsupported --storage-opt "inodes=10"');
      const root = await mkdtemp('/tmp/hull-');
      const refused = new TestDaemon(root, join(root, 'hull.sock'));
      refused.daemonArgs = ['--storage-opt', 'size=1g'];
      await expect(refused.spawn()).rejects.toThrow(/--storage-opt size: .* cannot limit/);
      await rm(root, { recursive: true, force: true });
    }
  });

  for (const [type, options] of [['btrfs', ''], ['xfs', 'prjquota']] as const) {
    it(`on ${type}: a write past the size fails, the daemon's default applies, and the filesystem gives no more`, async (ctx) => {
      const fs = await loopFs(type, options);
      if (typeof fs === 'string') return ctx.skip(fs); // e.g. a kernel built without XFS quota (this one: "quota support not available")
      const q = new TestDaemon(join(fs.dir, 'r'), join(fs.dir, 'r', 'hull.sock'));
      q.daemonArgs = ['--storage-opt', 'size=24m'];
      try {
        await q.spawn();
        expect(await q.ok(['info'])).toMatch(new RegExp(`Storage limits: {3}yes, ${type} .*default 24\\.0MiB`));
        for (const rt of ['crun', 'runc']) {
          const r = await q.hull(['run', '--rm', '--runtime', rt, '--storage-opt', 'size=12m', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=64; echo dd=$?; ls -l /big']);
          expect(r.stderr).toMatch(/dd: error writing '\/big': (Disk quota exceeded|No space left on device)/);
          expect(r.stdout).toContain('dd=1\n');
          expect(Number(r.stdout.split(/\s+/)[5])).toBeLessThanOrEqual(12 << 20);
        }
        const dflt = await q.hull(['run', '--rm', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null; ls -l /big']);
        const size = Number(dflt.stdout.split(/\s+/)[4]);
        expect(size).toBeGreaterThan(12 << 20);
        expect(size).toBeLessThanOrEqual(24 << 20);
        // The filesystem under the root gave the container its size and no more.
        execFileSync('sync');
        const before = usedMiB(fs.dir);
        await q.ok(['run', '-d', '--name', 'filler', '--storage-opt', 'size=12m', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=200; sync; echo done; sleep 60']);
        await waitFor(async () => (await q.ok(['logs', 'filler'])).includes('done'), 20_000);
        expect(usedMiB(fs.dir) - before).toBeLessThan(16);
      } finally {
        await q.destroy();
        await fs.undo();
      }
    });
  }
});
