import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkMountTargets } from './mount-targets.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp('/tmp/hull-targets-');
  await mkdir(join(root, 'run'));
  await mkdir(join(root, 'var'));
  await symlink('../run', join(root, 'var', 'run')); // Debian's own
  await symlink('/run', join(root, 'abs')); // absolute: rooted at the rootfs
  await symlink('../../../../etc', join(root, 'evil'));
  await symlink('run/../../x', join(root, 'sneaky'));
  await symlink('evil', join(root, 'chain'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const check = (destination: string) => checkMountTargets(root, [{ destination }]);

describe('mount targets', () => {
  it('follows links that stay inside the root filesystem', async () => {
    await expect(check('/var/run/x')).resolves.toBeUndefined();
    await expect(check('/abs/x')).resolves.toBeUndefined();
    await expect(check('/new/dir')).resolves.toBeUndefined();
  });
  it('refuses one that climbs out, however it is written', async () => {
    await expect(check('/evil/x')).rejects.toThrow(/symlink \/evil -> \.\.\/\.\.\/\.\.\/\.\.\/etc, which leads out/);
    await expect(check('/evil')).rejects.toThrow(/leads out/);
    await expect(check('/sneaky')).rejects.toThrow(/leads out/);
    await expect(check('/chain/y')).rejects.toThrow(/leads out/);
  });
});
