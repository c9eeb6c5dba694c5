import { spawn } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TestDaemon, waitFor } from '../helpers/hull.js';

let d: TestDaemon;
let tmp: string;
beforeAll(async () => {
  d = await TestDaemon.start();
  tmp = await mkdtemp('/tmp/hull-cp-');
});
afterAll(async () => {
  await d?.destroy();
  await rm(tmp, { recursive: true, force: true });
});

/** A shell pipeline on the host with the CLI as `hull` (bash, pipefail): its exit code and output. */
function sh(script: string, input = ''): Promise<{ code: number; out: string; err: string }> {
  const hull = `hull() { '${process.execPath}' '${join(REPO, 'bin/hull')}' -H 'unix://${d.socket}' "$@"; }`;
  return new Promise((resolve) => {
    const p = spawn('bash', ['-o', 'pipefail', '-c', `${hull}\n${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    p.stdin.end(input);
  });
}

const exec = (box: string, cmd: string) => d.ok(['exec', box, 'sh', '-c', cmd]);
const mountedUnder = async (dir: string) => (await readFile('/proc/self/mountinfo', 'utf8')).includes(dir);
const daemonFds = async () => (await readdir(`/proc/${d.proc!.pid}/fd`)).length;

describe('hull cp', () => {
  it('copies files and directories both ways, and never writes outside the container', async () => {
    await d.ok(['run', '-d', '--name', 'io', 'busybox', 'sleep', '300']);
    await d.ok(['exec', 'io', 'sh', '-c', 'mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b && ln -s /etc /data/etc-link']);
    await d.ok(['cp', 'io:/data/a', join(tmp, 'a.txt')]);
    expect(await readFile(join(tmp, 'a.txt'), 'utf8')).toBe('one\n');
    await d.ok(['cp', 'io:/data', tmp]);
    expect(await readFile(join(tmp, 'data/sub/b'), 'utf8')).toBe('two\n');

    await mkdir(join(tmp, 'up'));
    await writeFile(join(tmp, 'up', 'f'), 'uploaded');
    await d.ok(['cp', join(tmp, 'up'), 'io:/tmp/']);
    expect(await d.ok(['exec', 'io', 'cat', '/tmp/up/f'])).toBe('uploaded');
    await d.ok(['cp', join(tmp, 'up', 'f'), 'io:/renamed']);
    expect(await d.ok(['exec', 'io', 'cat', '/renamed'])).toBe('uploaded');

    // A symlink inside the container that points at /etc resolves to the container's /etc, not the host's.
    await d.ok(['cp', join(tmp, 'up', 'f'), 'io:/data/etc-link/']);
    expect(await d.ok(['exec', 'io', 'cat', '/etc/f'])).toBe('uploaded');
    await expect(readFile('/etc/f', 'utf8')).rejects.toThrow();

    const missing = await d.hull(['cp', 'io:/nope', tmp]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/not found/);

    // cp works on a stopped container too (its rootfs is mounted for the copy, then unmounted).
    await d.ok(['stop', '-t', '0', 'io']);
    await d.ok(['cp', 'io:/renamed', join(tmp, 'after-stop')]);
    expect(await readFile(join(tmp, 'after-stop'), 'utf8')).toBe('uploaded');
    await waitFor(async () => !(await readFile('/proc/self/mountinfo', 'utf8')).includes(join(d.root, 'containers')), 5000);
    await d.ok(['rm', 'io']);
  });

  it('a container swapping a directory for a symlink to a host path gets no copy onto or out of the host', async () => {
    // A directory that exists only on the host: the link the container makes points at it.
    const host = await mkdtemp('/tmp/hull-cp-race-host-');
    await writeFile(join(host, 'probe'), 'HOST\n');
    const swap = `mkdir -p /w/d/sub && echo CONTAINER > /w/d/probe && while true; do mv /w/d /w/d.real; ln -s ${host} /w/d; rm /w/d; mv /w/d.real /w/d; usleep 2000; done`;
    await d.ok(['run', '-d', '--name', 'racer', 'busybox', 'sh', '-c', swap]);
    const up = join(tmp, 'race-up');
    await mkdir(up);
    for (let i = 0; i < 20; i++) await writeFile(join(up, `race-marker-${i}`), 'x');
    let wrote = 0;
    let read = 0;
    const reads: string[] = [];
    // A few seconds of copies both ways, and on until some went through each way (at most 30 s).
    const start = Date.now();
    const going = async () => {
      const t = Date.now() - start;
      const enough = t > 3000 && wrote >= 3 && read >= 3;
      return !enough && t < 30_000 && (await readdir(host)).length === 1;
    };
    const writer = async () => {
      while (await going()) {
        if ((await d.hull(['cp', up, 'racer:/w/d/sub/'])).code === 0) wrote++;
      }
    };
    const reader = async (n: number) => {
      for (let i = 0; await going(); i++) {
        const out = join(tmp, `race-out-${n}-${i}`);
        if ((await d.hull(['cp', 'racer:/w/d/probe', out])).code !== 0) continue;
        read++;
        reads.push(await readFile(out, 'utf8').catch(() => 'MISSING'));
      }
    };
    try {
      await Promise.all([writer(), reader(0), reader(1)]);
      expect(await readdir(host)).toEqual(['probe']);
      expect(reads.filter((r) => r !== 'CONTAINER\n')).toEqual([]);
      // The race ran: copies went through both ways while the link was swapped.
      expect(wrote).toBeGreaterThan(0);
      expect(read).toBeGreaterThan(0);
    } finally {
      await d.hull(['rm', '-f', 'racer']);
      await rm(host, { recursive: true, force: true });
    }
  });

  it('copies the files Hull mounts (/etc/hosts, /etc/hostname, /etc/resolv.conf) as the container sees them, both ways', async () => {
    await d.ok(['run', '-d', '--name', 'named', '--hostname', 'cp-host', 'busybox', 'sleep', '300']);
    for (const f of ['hosts', 'hostname', 'resolv.conf']) {
      const inside = await exec('named', `cat /etc/${f}`);
      expect(inside.length).toBeGreaterThan(0);
      await d.ok(['cp', `named:/etc/${f}`, join(tmp, `mounted-${f}`)]);
      expect(await readFile(join(tmp, `mounted-${f}`), 'utf8')).toBe(inside);
    }
    expect(await readFile(join(tmp, 'mounted-hostname'), 'utf8')).toBe('cp-host\n');
    // In a copy of the directory too.
    await d.ok(['cp', 'named:/etc', join(tmp, 'etc-copy')]);
    expect(await readFile(join(tmp, 'etc-copy/hostname'), 'utf8')).toBe('cp-host\n');
    // Into one: the container sees it (docker writes the mounted file).
    await writeFile(join(tmp, 'new-hosts'), '10.9.8.7\tsomewhere\n');
    await d.ok(['cp', join(tmp, 'new-hosts'), 'named:/etc/hosts']);
    expect(await exec('named', 'cat /etc/hosts')).toBe('10.9.8.7\tsomewhere\n');
    const dirOnto = await d.hull(['cp', join(tmp, 'etc-copy'), 'named:/etc/hostname']);
    expect(dirOnto.code).toBe(1);
    expect(dirOnto.stderr).toMatch(/cannot copy a directory onto the file/);
    // Stopped, the copy still reads what the container had.
    await d.ok(['stop', '-t', '0', 'named']);
    await d.ok(['cp', 'named:/etc/hostname', join(tmp, 'stopped-hostname')]);
    expect(await readFile(join(tmp, 'stopped-hostname'), 'utf8')).toBe('cp-host\n');
    await d.ok(['rm', 'named']);
  });

  it('cp CONTAINER:PATH - writes a tar stream on stdout; cp - CONTAINER:DIR extracts one from stdin', async () => {
    await d.ok(['run', '-d', '--name', 'dash', 'busybox', 'sleep', '300']);
    const out = join(tmp, 'dash-out');
    await mkdir(out);
    const r = await sh(`cd '${tmp}' && hull cp dash:/etc/passwd - | tar -x -C '${out}' && ls -A`);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(/^-$/m); // no file named "-"
    expect(await readFile(join(out, 'passwd'), 'utf8')).toBe(await exec('dash', 'cat /etc/passwd'));
    const list = await sh(`hull cp dash:/etc - | tar -t`);
    expect(list.out.split('\n')).toEqual(expect.arrayContaining(['etc/', 'etc/passwd', 'etc/hostname']));

    const src = join(tmp, 'dash-src');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'top.txt'), 'top\n');
    await writeFile(join(src, 'sub/deep.txt'), 'deep\n');
    await exec('dash', 'mkdir /into');
    const put = await sh(`tar -c -C '${src}' . | hull cp - dash:/into`);
    expect(put.err).toBe('');
    expect(await exec('dash', 'cat /into/top.txt /into/sub/deep.txt')).toBe('top\ndeep\n');
    // The destination must be an existing directory, as docker's.
    const missing = await sh(`tar -c -C '${src}' . | hull cp - dash:/nowhere`);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/destination directory "\/nowhere\/\." not found/);
    const file = await sh(`tar -c -C '${src}' . | hull cp - dash:/etc/passwd`);
    expect(file.code).toBe(1);
    expect(file.err).toMatch(/is not a directory/);
    const junk = await sh(`echo not a tar | hull cp - dash:/into`);
    expect(junk.code).toBe(1);
    await d.ok(['rm', '-f', 'dash']);
  });

  it('follows docker cp rules: contents with /., a missing destination, a file onto a directory, a directory onto a file', async () => {
    await d.ok(['run', '-d', '--name', 'rules', 'busybox', 'sleep', '300']);
    await exec('rules', 'mkdir -p /src/sub && echo a > /src/a && echo b > /src/sub/b && mkdir /dst && echo f > /file');
    // A directory into an existing one, then its contents only.
    await mkdir(join(tmp, 'r1'));
    await d.ok(['cp', 'rules:/src', join(tmp, 'r1')]);
    expect(await readFile(join(tmp, 'r1/src/sub/b'), 'utf8')).toBe('b\n');
    await mkdir(join(tmp, 'r2'));
    await d.ok(['cp', 'rules:/src/.', join(tmp, 'r2')]);
    expect((await readdir(join(tmp, 'r2'))).sort()).toEqual(['a', 'sub']);
    // A directory to a new name; a missing destination ending in / is made for a directory, refused for a file.
    await d.ok(['cp', 'rules:/src', join(tmp, 'r3')]);
    expect(await readFile(join(tmp, 'r3/a'), 'utf8')).toBe('a\n');
    await d.ok(['cp', 'rules:/src', join(tmp, 'r4') + '/']);
    expect(await readFile(join(tmp, 'r4/a'), 'utf8')).toBe('a\n');
    const fileToDirSlash = await d.hull(['cp', 'rules:/src/a', join(tmp, 'r5') + '/']);
    expect(fileToDirSlash.code).toBe(1);
    expect(fileToDirSlash.stderr).toMatch(/destination directory .*r5\/" not found/);
    // A source ending in / must be a directory.
    const notDir = await d.hull(['cp', 'rules:/src/a/', tmp]);
    expect(notDir.stderr).toMatch(/is not a directory/);
    // A file onto an existing directory goes into it; onto a file replaces it; a directory onto a file is refused.
    await writeFile(join(tmp, 'up.txt'), 'up\n');
    await d.ok(['cp', join(tmp, 'up.txt'), 'rules:/dst']);
    await d.ok(['cp', join(tmp, 'up.txt'), 'rules:/file']);
    expect(await exec('rules', 'cat /dst/up.txt /file')).toBe('up\nup\n');
    const dirOntoFile = await d.hull(['cp', join(tmp, 'r1'), 'rules:/file']);
    expect(dirOntoFile.code).toBe(1);
    expect(dirOntoFile.stderr).toMatch(/cannot copy a directory onto the file "\/file"/);
    // Host contents into the container with /.
    await d.ok(['cp', join(tmp, 'r2') + '/.', 'rules:/dst']);
    expect(await exec('rules', 'cat /dst/a /dst/sub/b')).toBe('a\nb\n');
    // Paths with .. stay inside the container, either way.
    await d.ok(['cp', 'rules:/src/../../../src/a', join(tmp, 'dotdot')]);
    expect(await readFile(join(tmp, 'dotdot'), 'utf8')).toBe('a\n');
    await d.ok(['cp', join(tmp, 'up.txt'), 'rules:/../../../../dotdot-in']);
    expect(await exec('rules', 'cat /dotdot-in')).toBe('up\n');
    await expect(stat('/dotdot-in')).rejects.toThrow();
    // Missing paths, clearly.
    const missing = await d.hull(['cp', 'rules:/nope', tmp]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/container rules: "\/nope" not found/);
    const missingHost = await d.hull(['cp', join(tmp, 'nope'), 'rules:/']);
    expect(missingHost.code).toBe(1);
    expect(missingHost.stderr).toMatch(/nope" not found/);
    const noParent = await d.hull(['cp', join(tmp, 'up.txt'), 'rules:/no/such/dir']);
    expect(noParent.stderr).toMatch(/"\/no" not found/);
    await d.ok(['rm', '-f', 'rules']);
  });

  it('keeps owners, modes, symlinks (as links) and hard links, and maps owners through a user namespace', async () => {
    await d.ok(['run', '-d', '--name', 'meta', 'busybox', 'sleep', '300']);
    await exec('meta', 'mkdir -p /m/d && echo s > /m/suid && chown 1234:5678 /m/suid && chmod 4751 /m/suid && ln -s /etc/passwd /m/link && ln -s ../suid /m/d/rel && ln /m/suid /m/hard && chmod 700 /m/d');
    await d.ok(['cp', 'meta:/m', join(tmp, 'meta')]);
    const suid = await stat(join(tmp, 'meta/suid'));
    expect([suid.uid, suid.gid, suid.mode & 0o7777]).toEqual([1234, 5678, 0o4751]);
    expect((await stat(join(tmp, 'meta/d'))).mode & 0o777).toBe(0o700);
    expect((await lstat(join(tmp, 'meta/link'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(tmp, 'meta/link'))).toBe('/etc/passwd');
    expect(await readlink(join(tmp, 'meta/d/rel'))).toBe('../suid');
    expect((await stat(join(tmp, 'meta/hard'))).ino).toBe(suid.ino);
    // A symlink named as the source is copied as the link; -L copies what it points at.
    await d.ok(['cp', 'meta:/m/link', join(tmp, 'just-link')]);
    expect(await readlink(join(tmp, 'just-link'))).toBe('/etc/passwd');
    await d.ok(['cp', '-L', 'meta:/m/link', join(tmp, 'followed')]);
    expect(await readFile(join(tmp, 'followed'), 'utf8')).toBe(await exec('meta', 'cat /etc/passwd'));

    // Into the container: owners and modes as on the host.
    const up = join(tmp, 'owned');
    await writeFile(up, 'o\n');
    await chown(up, 4321, 8765);
    await chmod(up, 0o640);
    await symlink('/nowhere', join(tmp, 'up-link'));
    await d.ok(['cp', up, 'meta:/owned']);
    await d.ok(['cp', join(tmp, 'up-link'), 'meta:/up-link']);
    expect(await exec('meta', 'stat -c "%u %g %a" /owned; readlink /up-link')).toBe('4321 8765 640\n/nowhere\n');

    // With --userns the container's ids are the host's shifted: a copy speaks the container's.
    await d.ok(['run', '-d', '--name', 'mapped', '--userns', 'busybox', 'sleep', '300']);
    await chown(up, 0, 0);
    await d.ok(['cp', up, 'mapped:/owned']);
    expect(await exec('mapped', 'stat -c "%u %g" /owned && echo more >> /owned && echo ok')).toBe('0 0\nok\n');
    const listing = await sh('hull cp mapped:/owned - | tar -tv');
    expect(listing.out).toMatch(/^-rw-r----- 0\/0 /);
    // Directories a copy makes on the way are the container root's too.
    await mkdir(join(tmp, 'nest/a/b'), { recursive: true });
    await writeFile(join(tmp, 'nest/a/b/c'), 'c\n');
    await exec('mapped', 'mkdir /up');
    expect((await sh(`tar -c -C '${join(tmp, 'nest')}' a/b/c | hull cp - mapped:/up`)).err).toBe('');
    expect(await exec('mapped', 'stat -c %u /up/a /up/a/b && touch /up/a/b/new && echo ok')).toBe('0\n0\nok\n');
    await d.ok(['rm', '-f', 'meta', 'mapped']);
  });

  it('copies in and out of created, paused and stopped containers; a paused one stays paused', async () => {
    await writeFile(join(tmp, 'states.txt'), 'states\n');
    await d.ok(['create', '--name', 'fresh', 'busybox', 'sleep', '300']);
    await d.ok(['cp', join(tmp, 'states.txt'), 'fresh:/states.txt']);
    await d.ok(['cp', 'fresh:/states.txt', join(tmp, 'from-created')]);
    expect(await readFile(join(tmp, 'from-created'), 'utf8')).toBe('states\n');
    await d.ok(['start', 'fresh']);
    expect(await exec('fresh', 'cat /states.txt')).toBe('states\n');

    await d.ok(['pause', 'fresh']);
    await d.ok(['cp', join(tmp, 'states.txt'), 'fresh:/paused.txt']);
    await d.ok(['cp', 'fresh:/paused.txt', join(tmp, 'from-paused')]);
    expect(await readFile(join(tmp, 'from-paused'), 'utf8')).toBe('states\n');
    expect(await d.state('fresh', 'Status')).toBe('paused');
    await d.ok(['unpause', 'fresh']);

    await d.ok(['stop', '-t', '0', 'fresh']);
    await d.ok(['cp', join(tmp, 'states.txt'), 'fresh:/stopped.txt']);
    await d.ok(['cp', 'fresh:/stopped.txt', join(tmp, 'from-stopped')]);
    expect(await readFile(join(tmp, 'from-stopped'), 'utf8')).toBe('states\n');
    // The rootfs was mounted for the copy only.
    const id = (await d.ok(['inspect', '-f', '{{.Id}}', 'fresh'])).trim();
    await waitFor(async () => !(await mountedUnder(join(d.root, 'containers', id))), 5000);
    await d.ok(['rm', 'fresh']);
  });

  it('a client that goes away mid-copy leaves no lock, handle or mount behind', async () => {
    await d.ok(['run', '-d', '--name', 'big', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null; sleep 300']);
    await waitFor(async () => (await exec('big', 'ls -l /big')).includes('67108864'), 15_000);
    const fds = await daemonFds();
    // The reader takes a few bytes and goes; the CLI dies of the closed pipe.
    for (let i = 0; i < 3; i++) expect((await sh('hull cp big:/big - | head -c 1000 >/dev/null; true')).code).toBe(0);
    // A writer that sends half an archive and is killed, and one whose archive is cut short.
    await exec('big', 'mkdir /up');
    const killed = await sh(`(tar -c -C '${REPO}' package.json; sleep 3) | timeout -s KILL 1.5 bash -c "$(declare -f hull); hull cp - big:/up"`);
    expect(killed.code).toBe(137);
    const cut = await sh(`tar -c -C '${REPO}' src | head -c 30000 | hull cp - big:/up`);
    expect(cut.code).toBe(1);
    // Which side notices first depends on timing: the tar parser (the archive ends mid-entry) or the stream (its client closed).
    expect(cut.err).toMatch(/Unexpected end of data|Stream was destroyed/);
    await d.ok(['stop', '-t', '0', 'big']);
    await sh('hull cp big:/big - | head -c 1000 >/dev/null; true');
    const id = (await d.ok(['inspect', '-f', '{{.Id}}', 'big'])).trim();
    await waitFor(async () => !(await mountedUnder(join(d.root, 'containers', id))), 5000);
    await waitFor(async () => (await daemonFds()) <= fds, 5000);
    await d.ok(['rm', 'big']);
  });
});
