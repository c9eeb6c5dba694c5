import { openSync, closeSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { O_PATH } from '../root-dir.js';
import { stage, stageFd, stageShare, unstage, unstageShare } from './bind-stage.js';
import { isMounted } from './mounts.js';

const root = process.getuid?.() === 0;
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp('/tmp/hull-stage-');
});
afterAll(async () => {
  await unstage(join(tmp, 'at')).catch(() => undefined);
  await rm(tmp, { recursive: true, force: true });
});

describe.skipIf(!root)('bind sources pinned before the runtime sees them', () => {
  it('mounts the directory that was checked even when its path is swapped for a symlink before the mount', async () => {
    const src = join(tmp, 'site');
    const secret = join(tmp, 'secret');
    await mkdir(src);
    await writeFile(join(src, 'f'), 'checked');
    await mkdir(secret);
    await writeFile(join(secret, 'f'), 'host secret');
    const fd = openSync(src, O_PATH); // the check
    try {
      // The swap, between the check and the mount.
      await rename(src, join(tmp, 'moved'));
      await symlink(secret, src);
      const at = await stageFd(fd, join(tmp, 'at'));
      expect(await readFile(join(at, 'f'), 'utf8')).toBe('checked');
    } finally {
      closeSync(fd);
    }
    await unstage(join(tmp, 'at'));
    expect(await isMounted(join(tmp, 'at'))).toBe(false);
    // The path-following way would have mounted the secret: what stage() now does by path names it.
    const at = await stage(src, join(tmp, 'at'), { create: false });
    expect(await readFile(join(at, 'f'), 'utf8')).toBe('host secret');
    await unstage(at);
  });

  it('makes a missing source only when asked (-v), refuses one otherwise (--mount), and pins a file', async () => {
    await expect(stage(join(tmp, 'missing'), join(tmp, 'at'), { create: false })).rejects.toThrow(/bind source path .* not found/);
    const made = await stage(join(tmp, 'made'), join(tmp, 'at'), { create: true });
    expect(await isMounted(made)).toBe(true);
    await unstage(made);
    await writeFile(join(tmp, 'file'), 'one file');
    const f = await stage(join(tmp, 'file'), join(tmp, 'atf'), { create: false });
    expect(await readFile(f, 'utf8')).toBe('one file');
    await unstage(f);
    await expect(readFile(f)).rejects.toThrow(/ENOENT/);
  });

  it('stages a share for a VM: a directory as is, a file as the only entry of a read-only tmpfs, read-only when asked, private', async () => {
    const dir = join(tmp, 'shared');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'x'), 'x');
    const at = join(tmp, 'share0');
    expect(await stageShare(dir, at, { create: false, readOnly: false })).toEqual({ file: false });
    await appendFile(join(at, 'x'), 'y');
    expect(await readFile(join(dir, 'x'), 'utf8')).toBe('xy');
    const info = await readFile('/proc/self/mountinfo', 'utf8');
    const line = info.split('\n').find((l) => l.split(' ')[4] === at)!;
    expect(line).not.toMatch(/shared:/); // private: an unmount here never reaches a server's copy
    // Staged again (a start after an attach): still one mount, the same files.
    await stageShare(dir, at, { create: false, readOnly: false });
    expect((await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4] === at)).toHaveLength(1);
    await unstageShare(at);
    expect(await isMounted(at)).toBe(false);
    expect((await readdir(dir)).sort()).toEqual(['sub', 'x']); // the source is untouched

    await stageShare(dir, at, { create: false, readOnly: true });
    await expect(writeFile(join(at, 'w'), '')).rejects.toThrow(/EROFS/);
    await unstageShare(at);

    const file = join(tmp, 'conf');
    await writeFile(file, 'conf');
    expect(await stageShare(file, at, { create: false, readOnly: false })).toEqual({ file: true });
    expect(await readdir(at)).toEqual(['f']);
    await appendFile(join(at, 'f'), '+');
    expect(await readFile(file, 'utf8')).toBe('conf+');
    await expect(writeFile(join(at, 'other'), '')).rejects.toThrow(/EROFS/);
    await unstageShare(at);
    await stageShare(file, at, { create: false, readOnly: true });
    await expect(appendFile(join(at, 'f'), '+')).rejects.toThrow(/EROFS/);
    await unstageShare(at);
    expect(await readFile(file, 'utf8')).toBe('conf+');
    await expect(readdir(at)).rejects.toThrow(/ENOENT/);
  });

  it('refuses to share a socket or a device', async () => {
    await expect(stageShare('/dev/null', join(tmp, 'share1'), { create: false, readOnly: false })).rejects.toThrow(/neither a directory nor a regular file/);
  });
});
