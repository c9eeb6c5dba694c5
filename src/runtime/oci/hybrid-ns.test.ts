import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../sys/run.js';
import { detectCgroupMode } from '../host.js';
import { hybridNamespace, readMounts, releaseHybridNamespace } from './hybrid-ns.js';

// Real mounts and a real namespace: needs root and a hybrid-cgroup host (the only place it is used).
const hybrid = process.getuid?.() === 0 && (await detectCgroupMode()) === 'hybrid';
const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) {
    await run(['umount', '-l', join(r, 'later')], { allowFailure: true });
    await releaseHybridNamespace(r);
    await rm(r, { recursive: true, force: true });
  }
});

const inNs = (file: string, ...argv: string[]) => run(['nsenter', `--mount=${file}`, ...argv], { allowFailure: true });
const under = async (root: string) => (await readMounts()).filter((m) => m.point === root || m.point.startsWith(`${root}/`));

describe.skipIf(!hybrid)('the mount namespace crun runs in on a hybrid host', () => {
  it('hides cgroup2, sees mounts made under the root later, is reused, and is undone without a trace', async () => {
    const root = await mkdtemp('/tmp/hull-ns-');
    roots.push(root);
    const file = await hybridNamespace(root);
    expect(file).toBe(join(root, 'runtime', 'ns', 'mnt'));
    expect((await inNs(file!, 'grep', '-c', ' /sys/fs/cgroup/unified ', '/proc/self/mountinfo')).stdout.trim()).toBe('0');
    expect((await run(['grep', '-c', ' /sys/fs/cgroup/unified ', '/proc/self/mountinfo'])).stdout.trim()).toBe('1');

    // A rootfs mount made after the namespace reaches it, and so does its unmount.
    await mkdir(join(root, 'later'));
    await run(['mount', '-t', 'tmpfs', 'tmpfs', join(root, 'later')]);
    await run(['touch', join(root, 'later', 'marker')]);
    expect((await inNs(file!, 'ls', join(root, 'later'))).stdout.trim()).toBe('marker');
    await run(['umount', join(root, 'later')]);
    expect((await inNs(file!, 'ls', join(root, 'later'))).stdout.trim()).toBe('');

    // A second daemon on the same root enters the same namespace.
    const ino = (await stat(file!)).ino;
    expect(await hybridNamespace(root)).toBe(file);
    expect((await stat(file!)).ino).toBe(ino);

    // Anything else mounted under the root (a rootfs, a build's view) keeps it all in place.
    await run(['mount', '-t', 'tmpfs', 'tmpfs', join(root, 'later')]);
    await releaseHybridNamespace(root);
    expect((await readMounts()).find((m) => m.point === file)?.fstype).toBe('nsfs');
    await run(['umount', join(root, 'later')]);
    await releaseHybridNamespace(root);
    expect(await under(root)).toEqual([]);
    // After a reboot the file is there with nothing mounted on it: a new namespace is made.
    const again = await hybridNamespace(root);
    expect((await readMounts()).find((m) => m.point === again)?.fstype).toBe('nsfs');
    expect((await inNs(again!, 'grep', '-c', ' /sys/fs/cgroup/unified ', '/proc/self/mountinfo')).stdout.trim()).toBe('0');
  });

  it('refuses (so the caller falls back) when rootfs mounts already sit under an unshared root', async () => {
    const root = await mkdtemp('/tmp/hull-ns-');
    roots.push(root);
    await mkdir(join(root, 'later'));
    await run(['mount', '-t', 'tmpfs', 'tmpfs', join(root, 'later')]);
    expect(await hybridNamespace(root)).toBeUndefined();
    expect((await under(root)).map((m) => m.point)).toEqual([join(root, 'later')]);
  });
});
