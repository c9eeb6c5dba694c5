import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QemuUids } from './uids.js';

// Real files, a private claims directory and a range no process runs as (root is needed to chown).
let work: string;
const BASE = 2_000_060_000;
const at = (name: string) => join(work, 'vms', name);
async function vmDir(name: string): Promise<string> {
  await mkdir(at(name), { recursive: true, mode: 0o700 });
  return at(name);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hull-uids-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('QemuUids', () => {
  it('gives each VM its own uid, the same one again at its next start, and marks its directory root:<uid> 0710', async () => {
    const u = new QemuUids(join(work, 'c1'), BASE, 8);
    const [a, b] = [await vmDir('a1'), await vmDir('b1')];
    const ua = await u.claim(a);
    const ub = await u.claim(b);
    expect([ua, ub]).toEqual([BASE, BASE + 1]);
    expect(await u.claim(a)).toBe(ua);
    const st = await stat(a);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([0, ua, 0o710]);
  });

  it('hands out no uid twice, also to two daemons (two allocators, one host) claiming at once', async () => {
    const claims = join(work, 'c2');
    const [x, y] = [new QemuUids(claims, BASE + 100, 64), new QemuUids(claims, BASE + 100, 64)];
    const dirs = await Promise.all(Array.from({ length: 20 }, (_, i) => vmDir(`c2-${i}`)));
    const uids = await Promise.all(dirs.map((d, i) => (i % 2 ? x : y).claim(d)));
    expect(new Set(uids).size).toBe(20);
    expect((await readdir(claims)).filter((f) => /^\d+$/.test(f))).toHaveLength(20);
  });

  it('reuses a released uid, and takes over the claim of a directory that is gone, not of one that is there', async () => {
    const u = new QemuUids(join(work, 'c3'), BASE + 200, 2);
    const [a, b, c] = [await vmDir('a3'), await vmDir('b3'), await vmDir('c3')];
    const ua = await u.claim(a);
    await u.claim(b);
    await expect(u.claim(c)).rejects.toThrow(/no unprivileged user left for QEMU: all 2 uids/);
    await u.release(a);
    expect(await u.claim(c)).toBe(ua);
    await rm(b, { recursive: true });
    const d = await vmDir('d3');
    expect(await u.claim(d)).toBe(BASE + 201);
    expect(await u.owner(BASE + 201)).toBe(d);
  });

  it('keeps a VM its uid when its claim is gone', async () => {
    const claims = join(work, 'c4');
    const a = await vmDir('a4');
    const ua = await new QemuUids(claims, BASE + 300, 4).claim(a);
    await rm(claims, { recursive: true });
    expect(await new QemuUids(claims, BASE + 300, 4).claim(a)).toBe(ua);
  });
});
