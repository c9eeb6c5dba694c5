import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHullError } from '../../core/errors.js';
import { parseGroup, parsePasswd, resolveUser } from './user.js';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
app:x:1000:1000:App:/home/app:/bin/sh
web:x:33:33::/var/www:
`;
const GROUP = `root:x:0:
wheel:x:10:root,app
users:x:100:app
app:x:1000:
www:x:33:web
staff:x:50:
`;

let dir: string;
async function rootfs(name: string, files: Record<string, string>): Promise<string> {
  const r = join(dir, name);
  await mkdir(join(r, 'etc'), { recursive: true });
  for (const [p, text] of Object.entries(files)) await writeFile(join(r, p), text);
  return r;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hull-user-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('resolveUser', () => {
  it('resolves names, ids and groups as docker does', async () => {
    const r = await rootfs('std', { 'etc/passwd': PASSWD, 'etc/group': GROUP });
    expect(await resolveUser(r, '')).toEqual({ uid: 0, gid: 0, additionalGids: [10] });
    expect(await resolveUser(r, 'root')).toEqual({ uid: 0, gid: 0, additionalGids: [10] });
    expect(await resolveUser(r, 'app')).toEqual({ uid: 1000, gid: 1000, additionalGids: [10, 100] });
    expect(await resolveUser(r, '1000')).toEqual({ uid: 1000, gid: 1000, additionalGids: [10, 100] });
    // An explicit group replaces the primary one and drops the supplementary groups.
    expect(await resolveUser(r, 'app:staff')).toEqual({ uid: 1000, gid: 50, additionalGids: [] });
    expect(await resolveUser(r, '1000:1000')).toEqual({ uid: 1000, gid: 1000, additionalGids: [] });
    expect(await resolveUser(r, 'web:5')).toEqual({ uid: 33, gid: 5, additionalGids: [] });
    // A numeric user with no entry is fine: gid 0, no groups.
    expect(await resolveUser(r, '4242')).toEqual({ uid: 4242, gid: 0, additionalGids: [] });
    expect(await resolveUser(r, '4242:4243')).toEqual({ uid: 4242, gid: 4243, additionalGids: [] });
  });

  it('refuses an unknown name with docker\'s message', async () => {
    const r = await rootfs('unknown', { 'etc/passwd': PASSWD, 'etc/group': GROUP });
    const e = await resolveUser(r, 'nobody').catch((x) => x);
    expect(isHullError(e, 'invalid')).toBe(true);
    expect(e.message).toBe('unable to find user nobody: no matching entries in passwd file');
    await expect(resolveUser(r, 'app:nogroup')).rejects.toThrow('unable to find group nogroup: no matching entries in group file');
    await expect(resolveUser(r, 'app:')).rejects.toThrow(/invalid user/);
    await expect(resolveUser(r, '99999999999')).rejects.toThrow(/invalid id/);
    await expect(resolveUser(r, 'a/b')).rejects.toThrow(/invalid user or group name/);
  });

  it('works without /etc/passwd for numeric users only', async () => {
    const r = await rootfs('empty', {});
    expect(await resolveUser(r, '')).toEqual({ uid: 0, gid: 0, additionalGids: [] });
    expect(await resolveUser(r, '1000:1000')).toEqual({ uid: 1000, gid: 1000, additionalGids: [] });
    await expect(resolveUser(r, 'app')).rejects.toThrow('unable to find user app: no matching entries in passwd file');
  });

  it('never reads the host files through a symlink in the image', async () => {
    // A file outside the rootfs naming a user the image does not have.
    const host = join(dir, 'host-passwd');
    await writeFile(host, 'hostonly:x:7777:7777::/:/bin/sh\n');
    const abs = await rootfs('abs', {});
    await symlink(host, join(abs, 'etc/passwd'));
    await expect(resolveUser(abs, 'hostonly')).rejects.toThrow(/unable to find user hostonly/);

    const rel = await rootfs('rel', {});
    await symlink('../../../../../../../../..' + host, join(rel, 'etc/passwd'));
    await expect(resolveUser(rel, 'hostonly')).rejects.toThrow(/unable to find user hostonly/);

    // A directory link escaping with .. is clamped at the rootfs too.
    const dirl = join(dir, 'dirlink');
    await mkdir(dirl, { recursive: true });
    await symlink('../../../../../../..' + dir, join(dirl, 'etc'));
    await expect(resolveUser(dirl, 'hostonly')).rejects.toThrow(/unable to find user hostonly/);
  });

  it('follows symlinks that stay inside the image, as the container would', async () => {
    const r = await rootfs('inside', {});
    await mkdir(join(r, 'usr/lib'), { recursive: true });
    await writeFile(join(r, 'usr/lib/passwd'), PASSWD);
    await symlink('/usr/lib/passwd', join(r, 'etc/passwd'));
    expect((await resolveUser(r, 'app')).uid).toBe(1000);
  });

  it('refuses a passwd that is not a regular file, or a symlink loop', async () => {
    const r = await rootfs('dev', {});
    await symlink('/dev/zero', join(r, 'etc/passwd')); // absent in the image: read as missing
    expect((await resolveUser(r, '5')).uid).toBe(5);
    const d = await rootfs('dir', {});
    await mkdir(join(d, 'etc/passwd'));
    await expect(resolveUser(d, 'app')).rejects.toThrow(/not a regular file/);
    const loop = await rootfs('loop', {});
    await symlink('/etc/passwd', join(loop, 'etc/passwd'));
    await expect(resolveUser(loop, 'app')).rejects.toThrow(/too many levels of symbolic links/);
  });
});

describe('passwd and group parsing', () => {
  it('skips comments, blanks and malformed lines', () => {
    expect(parsePasswd('# x\n\nbad\nx:x:notanumber:1\nok:x:1:2::/:/bin/sh\n')).toEqual([{ name: 'ok', uid: 1, gid: 2 }]);
    expect(parseGroup('g:x:5:a, b,\nbad:x:\n')).toEqual([{ name: 'g', gid: 5, members: ['a', 'b'] }]);
  });
});
