import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHullError } from '../../core/errors.js';
import { hostDevices, mappedDevices, splitDev } from './devices.js';

describe('splitDev', () => {
  it("splits Linux's dev_t as glibc does", () => {
    expect(splitDev(0x103)).toEqual({ major: 1, minor: 3 });
    expect(splitDev(0xac8)).toEqual({ major: 10, minor: 200 });
    expect(splitDev(0xfe00)).toEqual({ major: 254, minor: 0 });
    expect(splitDev(0x10_0000 | 0x8800 | 0x05)).toEqual({ major: 136, minor: 0x105 }); // pts minor 261
  });
});

describe('mappedDevices', () => {
  it('gives a host node where the container asked for it', async () => {
    expect(await mappedDevices({ hostPath: '/dev/null', containerPath: '/dev/mynull', permissions: 'r' })).toEqual([
      { path: '/dev/mynull', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0, access: 'r' },
    ]);
  });

  it('refuses a missing node and a file that is not a device', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hull-dev-'));
    try {
      await writeFile(join(dir, 'f'), '');
      await expect(mappedDevices({ hostPath: join(dir, 'nope'), containerPath: '/dev/x', permissions: 'rwm' })).rejects.toSatisfy((e) => isHullError(e, 'not_found'));
      await expect(mappedDevices({ hostPath: join(dir, 'f'), containerPath: '/dev/x', permissions: 'rwm' })).rejects.toThrow(/not a character or block device/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it("lists the host's nodes for privileged, without the container's own pts, shm and console", async () => {
    const all = await hostDevices();
    expect(all.find((d) => d.path === '/dev/null')).toMatchObject({ type: 'c', major: 1, minor: 3, access: 'rwm' });
    expect(all.some((d) => d.path.startsWith('/dev/pts/') || d.path === '/dev/console' || d.path === '/dev/ptmx')).toBe(false);
  });
});
