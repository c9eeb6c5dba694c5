import { openSync, closeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { O_PATH } from '../root-dir.js';
import { stage, stageFd, unstage } from './bind-stage.js';
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
});
