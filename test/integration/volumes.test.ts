import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile as execFileCb } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/hull.js';

/**
 * Volumes for containers, through the real CLI and daemon with real crun,
 * qemu-img, qemu-storage-daemon, mkfs.ext4 and loop mounts: named, bind,
 * tmpfs and anonymous mounts, block volumes, snapshots, export/import, the
 * one-owner rule, a killed daemon, and the hostile cases of docs/storage.md.
 */
const execFile = promisify(execFileCb);
let d: TestDaemon;
let tmp: string;
beforeAll(async () => {
  d = await TestDaemon.start();
  tmp = await mkdtemp('/tmp/hull-vol-');
}, 60_000);
afterAll(async () => {
  await d?.destroy();
  await rm(tmp, { recursive: true, force: true });
}, 60_000);

const run = (...args: string[]) => d.ok(['run', '--rm', '--network', 'none', ...args]);
const fails = async (args: string[]) => {
  const r = await d.hull(args);
  expect(r.code, `${args.join(' ')} should fail: ${r.stdout}`).not.toBe(0);
  return r.stderr;
};
const inspect = async (name: string) => JSON.parse(await d.ok(['volume', 'inspect', name]))[0];
const mounts = async () => readFile('/proc/self/mountinfo', 'utf8');

async function buildImage(tag: string, dockerfile: string): Promise<void> {
  const ctx = await mkdtemp(join(tmp, 'ctx-'));
  await writeFile(join(ctx, 'Dockerfile'), dockerfile);
  await d.ok(['build', '-t', tag, ctx], { timeoutMs: 60_000 });
}

describe('local volumes', () => {
  it('keeps what a container wrote after rm, for the next container; rm of a volume in use is refused and names the users', async () => {
    await d.ok(['volume', 'create', 'pgdata']);
    await d.ok(['run', '--name', 'w1', '--network', 'none', '-v', 'pgdata:/var/lib/data', 'busybox', 'sh', '-c', 'echo kept > /var/lib/data/f']);
    expect(await fails(['volume', 'rm', 'pgdata'])).toMatch(/volume pgdata is in use by container w1/);
    await d.ok(['rm', '-v', 'w1']); // -v never removes a named volume
    expect(await run('-v', 'pgdata:/d', 'busybox', 'cat', '/d/f')).toBe('kept\n');
    // Made on first use, as docker does; then listed.
    expect(await run('-v', 'fresh:/d', 'busybox', 'sh', '-c', 'echo new > /d/x && cat /d/x')).toBe('new\n');
    expect((await d.ok(['volume', 'ls', '-q'])).split('\n')).toEqual(expect.arrayContaining(['pgdata', 'fresh']));
    await d.ok(['volume', 'rm', 'pgdata', 'fresh']);
    expect(await d.ok(['volume', 'ls', '-q'])).not.toMatch(/pgdata|fresh/);
  }, 60_000);

  it("is filled from the image's files at its target when empty, owners and modes kept; nocopy leaves it empty", async () => {
    expect(await run('-v', 'etcvol:/etc', 'busybox', 'sh', '-c', 'ls /etc/passwd && stat -c %a /etc')).toMatch(/\/etc\/passwd\n755/);
    const data = (await inspect('etcvol')).mountpoint as string;
    const st = await stat(join(data, 'passwd'));
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o644]);
    // Not empty now: a second container's image files are not copied over it.
    await run('-v', 'etcvol:/etc', 'busybox', 'sh', '-c', 'echo mine > /etc/motd');
    expect(await readFile(join(data, 'motd'), 'utf8')).toBe('mine\n');
    expect(await run('-v', 'empty:/etc:nocopy', 'busybox', 'ls', '-A', '/etc')).toBe('');
    await d.ok(['volume', 'rm', 'etcvol', 'empty']);
  }, 60_000);

  it('anonymous volumes (an image VOLUME, -v /path) go with rm -v only; --volumes-from shares them', async () => {
    await buildImage('withvol', 'FROM busybox\nRUN mkdir /data && echo seeded > /data/f\nVOLUME /data\n');
    await d.ok(['run', '--name', 'a1', '--network', 'none', 'withvol', 'sh', '-c', 'cat /data/f && echo more >> /data/f']);
    const id = JSON.parse(await d.ok(['inspect', 'a1']))[0].config.mounts[0].volumeId as string;
    await d.ok(['run', '--name', 'a2', '--network', 'none', '-v', '/scratch', '--volumes-from', 'a1:ro', 'busybox', 'sh', '-c', 'cat /data/f; echo x > /data/g || echo refused']);
    expect(await d.ok(['logs', 'a2'])).toBe('seeded\nmore\nrefused\n');
    const a2Vols = (JSON.parse(await d.ok(['inspect', 'a2']))[0].config.mounts as Array<{ target: string; volumeId: string }>).map((m) => m.target);
    expect(a2Vols.sort()).toEqual(['/data', '/scratch']);
    await d.ok(['rm', 'a1']); // without -v: the anonymous volume stays
    expect((await d.ok(['volume', 'ls', '-q'])).split('\n')).toContain(id);
    // As docker's: -v takes the anonymous volumes a2 has, its own and a1's (no one else uses it now).
    await d.ok(['rm', '-v', 'a2']);
    expect(await d.ok(['volume', 'ls', '-q'])).toBe('');
    await d.ok(['run', '--name', 'p1', '--network', 'none', 'withvol', 'true']);
    await d.ok(['rm', 'p1']);
    const left = (await d.ok(['volume', 'ls', '-q'])).trim();
    expect(left).toMatch(/^[0-9a-f]{64}$/);
    await d.ok(['volume', 'create', 'named']);
    expect(await d.ok(['volume', 'prune', '-f'])).toBe(`Deleted Volumes:\n${left}\n`);
    expect(await d.ok(['volume', 'ls', '-q'])).toBe('named\n');
    expect(await d.ok(['volume', 'prune', '-f', '-a'])).toContain('named');
    // --rm takes its anonymous volumes with it, as docker's.
    await run('withvol', 'true');
    expect(await d.ok(['volume', 'ls', '-q'])).toBe('');
  }, 90_000);

  it('snapshots and restores, exports and imports (owners and modes kept)', async () => {
    await run('-v', 'snap:/d', 'busybox', 'sh', '-c', 'echo old > /d/f && mkdir /d/sub && chown 123:45 /d/sub && chmod 710 /d/sub');
    await d.ok(['volume', 'snapshot', 'create', 'snap', 'before']);
    await run('-v', 'snap:/d', 'busybox', 'sh', '-c', 'echo new > /d/f && rm -r /d/sub');
    await d.ok(['volume', 'snapshot', 'restore', 'snap', 'before']);
    expect(await run('-v', 'snap:/d', 'busybox', 'sh', '-c', 'cat /d/f; stat -c "%u:%g %a" /d/sub')).toBe('old\n123:45 710\n');
    const file = join(tmp, 'snap.tar');
    await d.ok(['volume', 'export', 'snap', '-o', file]);
    await d.ok(['volume', 'import', 'snap2', '-i', file]);
    expect(await run('-v', 'snap2:/d', 'busybox', 'sh', '-c', 'cat /d/f; stat -c "%u:%g %a" /d/sub')).toBe('old\n123:45 710\n');
    await d.ok(['volume', 'rm', 'snap', 'snap2']);
  }, 60_000);
});

describe('bind and tmpfs mounts', () => {
  it('a read-only bind refuses writes; -v makes a missing host directory, --mount refuses one', async () => {
    const site = join(tmp, 'site');
    await mkdir(site);
    await writeFile(join(site, 'index.html'), 'page');
    expect(await run('-v', `${site}:/www:ro`, 'busybox', 'cat', '/www/index.html')).toBe('page');
    expect(await run('-v', `${site}:/www:ro`, 'busybox', 'sh', '-c', 'echo x > /www/y 2>&1 || echo refused')).toMatch(/Read-only file system\nrefused|refused/);
    expect(existsSync(join(site, 'y'))).toBe(false);
    await run('--mount', `type=bind,source=${site},target=/www`, 'busybox', 'sh', '-c', 'echo written > /www/y');
    expect(await readFile(join(site, 'y'), 'utf8')).toBe('written\n');
    expect(await fails(['run', '--rm', '--mount', `type=bind,source=${join(tmp, 'nope')},target=/x`, 'busybox', 'true'])).toMatch(/bind source path does not exist/);
    await run('-v', `${join(tmp, 'made')}:/x`, 'busybox', 'touch', '/x/a');
    expect(await readdir(join(tmp, 'made'))).toEqual(['a']);
    // Nothing of the pinned sources is left mounted.
    expect(await mounts()).not.toContain(join(d.root, 'binds'));
  }, 60_000);

  it('a host directory mounted after the daemon started reaches the container (crun\'s own namespace on hybrid hosts too)', async () => {
    const late = join(tmp, 'late');
    await mkdir(late);
    await execFile('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'late', late]);
    try {
      await writeFile(join(late, 'f'), 'mounted later');
      expect(await run('-v', `${late}:/l:ro`, 'busybox', 'cat', '/l/f')).toBe('mounted later');
    } finally {
      await execFile('umount', [late]);
    }
  }, 30_000);

  it('a --userns container writes in its volume (the volume root is its root user)', async () => {
    await d.ok(['run', '--name', 'un1', '--network', 'none', '--userns', '-v', 'uns:/d', 'busybox', 'sh', '-c', 'echo mine > /d/f && stat -c %u /d/f']);
    expect(await d.ok(['logs', 'un1'])).toBe('0\n');
    const hostId = JSON.parse(await d.ok(['inspect', 'un1']))[0].config.idMap.hostUid as number;
    expect(hostId).toBeGreaterThan(0);
    expect((await stat(join((await inspect('uns')).mountpoint, 'f'))).uid).toBe(hostId);
    await d.ok(['rm', 'un1']);
    await d.ok(['volume', 'rm', 'uns']);
  }, 30_000);

  it('a tmpfs has the size asked for, and a write beyond it gets ENOSPC', async () => {
    const out = await run('--mount', 'type=tmpfs,target=/scratch,tmpfs-size=1m', 'busybox', 'sh', '-c', 'df -k /scratch | tail -1; dd if=/dev/zero of=/scratch/big bs=64k count=64 2>&1; true');
    expect(out).toMatch(/\s1024\s/);
    expect(out).toMatch(/No space left on device/);
    expect(await run('--tmpfs', '/t:size=2m', 'busybox', 'sh', '-c', 'df -k /t | tail -1')).toMatch(/\s2048\s/);
  }, 60_000);
});

describe('block volumes in containers', () => {
  it('are made ext4 on first use, mounted for the containers using them and unmounted after; full gives ENOSPC; snapshots and export/import round-trip', async () => {
    await d.ok(['volume', 'create', '--driver', 'block', '--size', '32m', 'blk']);
    const v = await inspect('blk');
    expect(v).toMatchObject({ driver: 'block', format: 'qcow2', sizeBytes: 32 * 1024 * 1024 });
    await d.ok(['run', '-d', '--name', 'b1', '--network', 'none', '-v', 'blk:/data', 'busybox', 'sleep', '300']);
    await d.ok(['exec', 'b1', 'sh', '-c', 'echo one > /data/f']);
    expect(await mounts()).toContain(v.mountpoint);
    expect((await inspect('blk')).holder).toMatchObject({ kind: 'host' });
    // A second container shares the one host mount.
    expect(await run('-v', 'blk:/data', 'busybox', 'cat', '/data/f')).toBe('one\n');
    const full = await d.ok(['exec', 'b1', 'sh', '-c', 'dd if=/dev/zero of=/data/big bs=1M count=64 2>&1; rm /data/big']);
    expect(full).toMatch(/No space left on device/);
    await d.ok(['rm', '-f', 'b1']);
    expect(await mounts()).not.toContain(v.mountpoint);
    expect((await inspect('blk')).holder).toBeUndefined();

    await d.ok(['volume', 'snapshot', 'create', 'blk', 'before-upgrade']);
    await run('-v', 'blk:/data', 'busybox', 'sh', '-c', 'echo two > /data/f');
    await d.ok(['volume', 'snapshot', 'restore', 'blk', 'before-upgrade']);
    expect(await run('-v', 'blk:/data', 'busybox', 'cat', '/data/f')).toBe('one\n');
    expect(await d.ok(['volume', 'snapshot', 'ls', 'blk'])).toContain('before-upgrade');

    const file = join(tmp, 'blk.tar');
    await d.ok(['volume', 'export', 'blk', '-o', file]);
    await d.ok(['volume', 'import', 'blk2', '-i', file]);
    expect(await inspect('blk2')).toMatchObject({ driver: 'block', sizeBytes: 32 * 1024 * 1024 });
    expect(await run('--mount', 'type=volume,source=blk2,target=/data', 'busybox', 'cat', '/data/f')).toBe('one\n');
    await d.ok(['volume', 'rm', 'blk', 'blk2']);
  }, 120_000);
});

describe('a killed daemon', () => {
  it('keeps running containers\' mounts, lets go of what stopped meanwhile, and removes a half-made volume', async () => {
    await d.ok(['volume', 'create', '--driver', 'block', '--size', '32m', 'kb']);
    await d.ok(['run', '-d', '--name', 'k1', '--network', 'none', '-v', 'kb:/data', 'busybox', 'sh', '-c', 'echo alive > /data/f; sleep 300']);
    const mp = (await inspect('kb')).mountpoint as string;
    await d.crash();
    // A volume half-made at the killed moment: a `creating` record with its directory.
    const half = 'f'.repeat(64);
    const db = new Database(join(d.root, 'hull.db'));
    db.prepare('INSERT INTO docs (kind, id, name, doc) VALUES (?, ?, ?, ?)').run('volume', half, 'half', JSON.stringify({ id: half, name: 'half', driver: 'local', status: 'creating', options: {}, labels: {}, anonymous: false, createdAt: '' }));
    db.close();
    await mkdir(join(d.root, 'volumes', half, '_data'), { recursive: true });
    await d.spawn();
    expect(existsSync(join(d.root, 'volumes', half))).toBe(false);
    expect(await d.ok(['volume', 'ls', '-q'])).not.toContain('half');
    // The running container kept its volume, and the daemon still knows who holds it.
    expect(await d.ok(['exec', 'k1', 'cat', '/data/f'])).toBe('alive\n');
    expect(await fails(['volume', 'rm', 'kb'])).toMatch(/in use by container k1/);
    // Killed again, and the container ends while no daemon runs: the next daemon undoes the host mount.
    const pid = Number(await d.state('k1', 'Pid'));
    await d.crash();
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    await d.spawn();
    expect(await d.state('k1', 'Status')).toBe('exited');
    expect(await mounts()).not.toContain(mp);
    expect((await inspect('kb')).holder).toBeUndefined();
    await d.ok(['rm', 'k1']);
    await d.ok(['volume', 'rm', 'kb']);
  }, 120_000);
});

describe('bad input and hostile containers', () => {
  it('refuses volume names with /, .. or NUL, and targets that are not absolute paths', async () => {
    for (const name of ['a/b', '..', 'x..y', '.hidden']) expect(await fails(['volume', 'create', name])).toMatch(/invalid volume name/);
    expect(await fails(['run', '--rm', '-v', 'a/b:/x', 'busybox', 'true'])).toMatch(/invalid volume name/);
    expect(await fails(['run', '--rm', '--mount', 'type=volume,source=..,target=/x', 'busybox', 'true'])).toMatch(/invalid volume name/);
    expect(await fails(['run', '--rm', '-v', 'v:relative', 'busybox', 'true'])).toMatch(/absolute/);
    expect(await fails(['run', '--rm', '-v', 'v:/', 'busybox', 'true'])).toMatch(/root/);
    expect(await d.ok(['volume', 'ls', '-q'])).toBe('');
  }, 30_000);

  it("refuses a mount target that a symlink in the image sends out of the container's root; the host's files are not touched", async () => {
    const outside = join(tmp, 'outside');
    await mkdir(outside);
    await buildImage('evil', `FROM busybox\nRUN ln -s ../../../../../../../../..${outside} /evil\n`);
    const err = await fails(['run', '--rm', '--network', 'none', '-v', 'ev:/evil/sub', 'evil', 'touch', '/evil/sub/pwned']);
    expect(err).toMatch(/mount target \/evil\/sub goes through the symlink \/evil -> .* out of the container's root filesystem/);
    expect(await readdir(outside)).toEqual([]);
    await d.ok(['volume', 'rm', 'ev']);
  }, 90_000);

  it('cp into a volume through a symlink the container made stays in the container', async () => {
    await d.ok(['run', '-d', '--name', 'cpv', '--network', 'none', '-v', 'cpvol:/data', 'busybox', 'sleep', '300']);
    await d.ok(['exec', 'cpv', 'sh', '-c', 'ln -s / /data/root-link && ln -s /etc /data/etc-link && ln -s ../../../../../../../etc /data/up-link']);
    await writeFile(join(tmp, 'payload'), 'x');
    await d.ok(['cp', join(tmp, 'payload'), 'cpv:/data/root-link/tmp/']);
    expect(await d.ok(['exec', 'cpv', 'cat', '/tmp/payload'])).toBe('x');
    // Links to /etc, however written, are the container's /etc: the host's is never written.
    await writeFile(join(tmp, 'hull-vol-test-payload'), 'y');
    await d.ok(['cp', join(tmp, 'hull-vol-test-payload'), 'cpv:/data/etc-link/']);
    await d.ok(['cp', join(tmp, 'hull-vol-test-payload'), 'cpv:/data/up-link/hull-vol-test-payload2']);
    expect(existsSync('/etc/hull-vol-test-payload') || existsSync('/etc/hull-vol-test-payload2')).toBe(false);
    expect(await d.ok(['exec', 'cpv', 'cat', '/etc/hull-vol-test-payload', '/etc/hull-vol-test-payload2'])).toBe('yy');
    // Into the volume and out of it, running and stopped.
    await d.ok(['cp', join(tmp, 'payload'), 'cpv:/data/in']);
    await d.ok(['stop', '-t', '0', 'cpv']);
    await d.ok(['cp', 'cpv:/data/in', join(tmp, 'back')]);
    expect(await readFile(join(tmp, 'back'), 'utf8')).toBe('x');
    await d.ok(['rm', 'cpv']);
    await d.ok(['volume', 'rm', 'cpvol']);
  }, 60_000);
});

describe("volume events and docker's Mounts view", () => {
  it("emits docker's volume events: create when one is made (by volume create or on first use), destroy at rm", async () => {
    await d.ok(['volume', 'create', 'evvol']);
    await d.ok(['volume', 'create', 'evvol']); // already there: nothing made, no event
    await d.ok(['run', '--rm', '-v', 'evfirst:/x', 'busybox', 'true']);
    await d.ok(['volume', 'rm', 'evvol', 'evfirst']);
    const ev = await d.ok(['events', '--since', '5m', '--until', '0s', '--filter', 'type=volume', '--format', '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}}']);
    expect(ev.split('\n').filter((l) => / ev(vol|first) /.test(l))).toEqual(['create evvol local', 'create evfirst local', 'destroy evvol local', 'destroy evfirst local']);
  });

  it("lists a container's mounts in docker's Mounts: ps's MOUNTS column and inspect templates", async () => {
    await d.ok(['run', '-d', '--name', 'mnt', '-v', 'mvol:/data', '-v', '/tmp:/h:ro', 'busybox', 'sleep', '30']);
    expect((await d.ok(['ps', '--filter', 'name=^mnt$', '--format', '{{.Mounts}} {{.LocalVolumes}}'])).trim()).toBe('mvol,/tmp 1');
    expect((await d.ok(['inspect', '-f', '{{range .Mounts}}{{.Type}}:{{.Destination}}:{{.RW}} {{end}}', 'mnt'])).trim()).toBe('volume:/data:true bind:/h:false');
    expect((await d.ok(['inspect', '-f', '{{(index .Mounts 0).Name}} {{(index .Mounts 0).Driver}}', 'mnt'])).trim()).toBe('mvol local');
    await d.ok(['rm', '-f', 'mnt']);
    await d.ok(['volume', 'rm', 'mvol']);
  });
});
