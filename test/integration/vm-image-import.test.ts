import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * `hull vm image import` is an upload (as `docker load`): the real CLI sends
 * the file's bytes to a real daemon, which checks them as untrusted. Hostile
 * qcow2 images (a backing file or an external data file naming the host's
 * /etc/shadow) are refused before qemu-img opens them; a good one becomes a
 * VM whose start attaches a cloud-init seed. Needs the built guest.
 */
process.env.HULL_VM_ACCEL = 'tcg';
const guestBuilt = existsSync(join(REPO, 'build', 'guest', 'guest.json'));
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8DH4s2ayDzn5zY0R1vJYpbRk6xaodMGwWK6N3Bfx1 alice@laptop';
const img = (...args: string[]) => execFileSync('qemu-img', args, { stdio: 'pipe' }).toString();

describe.skipIf(!guestBuilt)('hull vm image import (upload) and cloud-init seeds', () => {
  let d: TestDaemon;
  let files: string;
  const imagesDir = () => readdir(join(d.root, 'vm-images'));
  const curl = (url: string, file: string) =>
    JSON.parse(execFileSync('curl', ['-s', '--unix-socket', d.socket, '-X', 'POST', '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${file}`, `http://hull${url}`]).toString()) as { code?: string; message?: string; id?: string };

  beforeAll(async () => {
    d = await TestDaemon.start();
    files = join(d.root, 'files');
    execFileSync('mkdir', ['-p', files]);
  }, 60_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);

  it('a raw and a qcow2 upload arrive byte for byte; stdin works; --from-host-path still reads a host file', async () => {
    const raw = join(files, 'disk.raw');
    const bytes = Buffer.alloc(2 * 1024 * 1024);
    bytes.write('HULL-UPLOAD-MARKER', 1024 * 1024);
    await writeFile(raw, bytes);
    const id = (await d.ok(['vm', 'image', 'import', raw, '--name', 'up-raw'])).trim();
    const qcow = join(files, 'disk.qcow2');
    img('convert', '-f', 'raw', '-O', 'qcow2', raw, qcow);
    await d.ok(['vm', 'image', 'import', qcow, '--name', 'up-qcow2']);
    await d.ok(['vm', 'image', 'import', '-', '--name', 'up-stdin'], { input: 'x'.repeat(4096) });
    await d.ok(['vm', 'image', 'import', '--from-host-path', raw, '--name', 'host-raw']);
    const xs = JSON.parse(await d.ok(['vm', 'image', 'ls', '--format', 'json'])) as Array<{ id: string; name: string; format: string; virtualSize: number; path: string }>;
    expect(xs.find((x) => x.name === 'up-raw')).toMatchObject({ id, format: 'qcow2', virtualSize: 2 * 1024 * 1024 });
    for (const name of ['up-raw', 'up-qcow2', 'host-raw']) {
      const back = join(files, `${name}.back`);
      img('convert', '-f', 'qcow2', '-O', 'raw', xs.find((x) => x.name === name)!.path, back);
      expect((await readFile(back)).equals(bytes)).toBe(true);
    }
    expect(xs.find((x) => x.name === 'up-stdin')).toMatchObject({ format: 'qcow2', virtualSize: 4096 });
    expect((await imagesDir()).filter((n) => n.startsWith('.'))).toEqual([]); // no temp upload left
  }, 90_000);

  it('hostile qcow2 images naming host files are refused, nothing is kept', async () => {
    const before = await imagesDir();
    const evil: Array<[string, string[], RegExp]> = [
      ['backing.qcow2', ['create', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw'], /has a backing file/],
      ['json.qcow2', ['create', '-f', 'qcow2', '-u', '-b', 'json:{"driver":"raw","file":{"driver":"file","filename":"/etc/shadow"}}', '-F', 'raw'], /has a backing file/],
      // (qemu-img create writes the data file: a file of the test's stands in for a host file.)
      ['datafile.qcow2', ['create', '-f', 'qcow2', '-o', `data_file=${join(files, 'victim.raw')},data_file_raw=on`], /external data file/],
    ];
    for (const [name, args, why] of evil) {
      const path = join(files, name);
      img(...args, path, '1M');
      const r = await d.hull(['vm', 'image', 'import', path, '--name', name.replace('.qcow2', '')]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/refusing the qcow2 image/);
      expect(r.stderr).toMatch(why);
    }
    // A qcow2 v2 header (compat=0.10) with a backing file is caught the same way.
    const v2 = join(files, 'v2.qcow2');
    img('create', '-f', 'qcow2', '-o', 'compat=0.10', '-u', '-b', '/etc/passwd', '-F', 'raw', v2, '1M');
    expect((await d.hull(['vm', 'image', 'import', v2, '--name', 'v2'])).stderr).toMatch(/has a backing file/);
    expect(await imagesDir()).toEqual(before);
  }, 60_000);

  it('the API refuses a short upload, a taken name before reading, a wrong content type', async () => {
    const raw = join(files, 'short.raw');
    await writeFile(raw, Buffer.alloc(8192));
    expect(curl('/v1/vm-images?name=short&size=100000', raw).message).toMatch(/the upload ended after 8192 of 100000 bytes/);
    expect(curl('/v1/vm-images?name=up-raw', raw)).toMatchObject({ code: 'conflict', message: 'VM image "up-raw" already exists' });
    expect(curl('/v1/vm-images?name=bad%2Fname', raw).message).toMatch(/invalid VM image name/);
    expect(curl('/v1/vm-images?name=sized&size=8192', raw).id).toMatch(/^[0-9a-f]{32}$/);
    // An upload the disk cannot hold is refused before a byte is written.
    expect(curl('/v1/vm-images?name=huge&size=100000000000000', raw)).toMatchObject({ code: 'resource', message: expect.stringMatching(/^not enough disk space: the upload of .* needs about .* is free under /) });
    const json = execFileSync('curl', ['-s', '--unix-socket', d.socket, '-X', 'POST', '-H', 'Content-Type: application/json', '-d', '{}', 'http://hull/v1/vm-images?name=j']).toString();
    expect(json).toMatch(/application\/octet-stream/);
    expect((await imagesDir()).filter((n) => n.startsWith('.'))).toEqual([]);
  }, 30_000);

  it('vm create: bad cloud-init input is refused with the reason, nothing made', async () => {
    const bad = join(files, 'bad.yaml');
    await writeFile(bad, '#cloud-config\nusers: [a\n');
    const notCfg = join(files, 'plain.txt');
    await writeFile(notCfg, 'hostname: x\n');
    const cases: Array<[string[], RegExp]> = [
      [['--user-data', bad], /user-data is not valid YAML/],
      [['--user-data', notCfg], /user-data must start with #cloud-config/],
      [['--user-data', join(files, 'missing.yaml')], /--user-data .*missing.yaml: no such file/],
      [['--ssh-key', 'ssh-rsa AAAAnotakey x'], /not an SSH public key|is not a ssh-rsa key/],
      [['--ssh-key', KEY, '--user-data', join(files, 'ok.yaml')], /--user-data replaces/],
      [['--password', 'a', '--password-file', bad], /not both/],
    ];
    await writeFile(join(files, 'ok.yaml'), '#cloud-config\n');
    for (const [flags, why] of cases) {
      const r = await d.hull(['vm', 'create', '--name', 'nope', '--network', 'none', '--image', 'up-qcow2', ...flags]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(why);
    }
    expect((await d.ok(['ps', '-aq'])).trim()).toBe('');
    expect(await readdir(join(d.root, 'vms')).catch(() => [])).toEqual([]);
  }, 60_000);

  it('an imported disk boots through the firmware with the cloud-init seed attached as a read-only disk', async () => {
    await d.ok(['vm', 'create', '--name', 'cloudy', '--network', 'none', '--image', 'up-qcow2', '--user-script', 'touch /root/ran', '--ssh-key', KEY, '--password', 'not-kept-in-clear']);
    const id = JSON.parse(await d.ok(['vm', 'inspect', 'cloudy']))[0].id as string;
    await d.ok(['vm', 'start', 'cloudy']);
    const seed = join(d.root, 'vms', id, 'seed.iso');
    const pid = Number((await readFile(join(d.root, 'vms', id, 'qemu.pid'), 'utf8')).trim());
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    expect(cmdline.find((a) => a.includes('"node-name":"seed0"'))).toContain(seed);
    expect(cmdline).toContain('virtio-blk-pci,drive=seed0,id=seed0-dev');
    expect(execFileSync('blkid', ['-o', 'value', '-s', 'LABEL', seed]).toString().trim()).toBe('cidata');
    const read = (f: string) => execFileSync('isoinfo', ['-i', seed, '-R', '-x', f]).toString();
    expect(JSON.parse(read('/meta-data'))).toEqual({ 'instance-id': id, 'local-hostname': 'cloudy' });
    const ud = read('/user-data');
    expect(ud).toMatch(/^Content-Type: multipart\/mixed/);
    expect(ud).toContain(Buffer.from('#!/bin/sh\ntouch /root/ran').toString('base64').slice(0, 20));
    // The key and the password's hash reach the seed; the password itself is nowhere (record or seed).
    const decoded = ud + ud.split(/\n\n/).map((p) => Buffer.from(p.replace(/\s/g, ''), 'base64').toString()).join('\n');
    expect(decoded).toContain(KEY);
    expect(decoded).toMatch(/\$6\$[^\s"]+/);
    expect(decoded).not.toContain('not-kept-in-clear');
    expect(await d.ok(['vm', 'inspect', 'cloudy'])).not.toContain('not-kept-in-clear');
    // QEMU is up under the firmware (this disk has nothing to boot, so SeaBIOS waits).
    expect(JSON.parse(await d.ok(['vm', 'inspect', 'cloudy']))[0].vm.qmpStatus).toBe('running');
    await d.ok(['vm', 'rm', '-f', 'cloudy'], { timeoutMs: 30_000 });
    await waitFor(async () => !existsSync(join(d.root, 'vms', id)), 10_000);
  }, 60_000);
});
