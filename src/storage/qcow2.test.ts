import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHullError } from '../core/errors.js';
import * as qcow2 from './qcow2.js';

const MiB = 1024 * 1024;
let dir: string;
let base: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qcow2-'));
  base = join(dir, 'base.qcow2');
  await qcow2.createBlank(base, 16 * MiB);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const read = (disk: string, at: number, len: number) =>
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', `read -v ${at} ${len}`, disk]).toString().includes(`${'78 '.repeat(4)}`);
const write = (disk: string, at: number, len: number) => execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x78 ${at} ${len}`, disk]);

describe('qcow2 disks through qemu-img', () => {
  it('makes a linked clone of a base, grown at create, and reads it back', async () => {
    const clone = join(dir, 'clone.qcow2');
    await qcow2.createOverlay(base, clone, { sizeBytes: 64 * MiB });
    const i = await qcow2.info(clone);
    expect(i).toMatchObject({ format: 'qcow2', virtualSize: 64 * MiB, backingFile: base, backingFormat: 'qcow2', dirty: false, snapshots: [] });
    await expect(qcow2.createOverlay(base, join(dir, 'small.qcow2'), { sizeBytes: MiB })).rejects.toThrow(/smaller than the image/);
  });

  it('refuses a missing base with not_found', async () => {
    const e = await qcow2.createOverlay(join(dir, 'nope.qcow2'), join(dir, 'x.qcow2')).catch((x: unknown) => x);
    expect(isHullError(e, 'not_found')).toBe(true);
    expect((e as Error).message).toMatch(/nope\.qcow2.*No such file or directory/);
  });

  it('creates, lists, applies and deletes disk-only snapshots', async () => {
    const d = join(dir, 'snap.qcow2');
    await qcow2.createOverlay(base, d);
    await qcow2.snapshotCreate(d, 'clean');
    write(d, 0, 4096);
    expect(read(d, 0, 16)).toBe(true);
    const list = await qcow2.snapshotList(d);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ name: 'clean', vmStateSize: 0 });
    expect(Date.parse(list[0].date)).toBeGreaterThan(Date.now() - 60_000);
    await expect(qcow2.snapshotCreate(d, 'clean')).rejects.toThrow(/already exists/);
    await qcow2.snapshotApply(d, 'clean');
    expect(read(d, 0, 16)).toBe(false);
    await qcow2.snapshotDelete(d, 'clean');
    expect(await qcow2.snapshotList(d)).toEqual([]);
    const e = await qcow2.snapshotApply(d, 'clean').catch((x: unknown) => x);
    expect(isHullError(e, 'not_found')).toBe(true);
    for (const bad of ['', '123', '-x', 'a b', 'x'.repeat(65)]) expect(() => qcow2.checkSnapshotName(bad)).toThrow(/invalid snapshot name/);
  });

  it('detects qcow2, raw and ISO images and converts raw to qcow2', async () => {
    const raw = join(dir, 'disk.raw');
    await writeFile(raw, Buffer.alloc(MiB, 1));
    expect(await qcow2.detectFormat(raw)).toBe('raw');
    expect(await qcow2.detectFormat(base)).toBe('qcow2');
    const iso = join(dir, 'cd.iso');
    const fh = await open(iso, 'w');
    await fh.write(Buffer.from('\x01CD001\x01', 'latin1'), 0, 7, 0x8000);
    await fh.truncate(0x10000);
    await fh.close();
    expect(await qcow2.detectFormat(iso)).toBe('iso');
    const out = join(dir, 'from-raw.qcow2');
    await qcow2.convertToQcow2(raw, out, 'raw');
    expect(await qcow2.info(out)).toMatchObject({ format: 'qcow2', virtualSize: MiB });
    await expect(qcow2.detectFormat(join(dir, 'missing'))).rejects.toThrow(/not found/);
  });

  it('finds a corrupt qcow2 and says so', async () => {
    const d = join(dir, 'corrupt.qcow2');
    await qcow2.createBlank(d, 16 * MiB);
    write(d, 0, 65536);
    await qcow2.check(d);
    // Point the L1 table's first entry at a cluster past the end of the file.
    const fh = await open(d, 'r+');
    const hdr = Buffer.alloc(48);
    await fh.read(hdr, 0, 48, 0);
    const l1 = Number(hdr.readBigUInt64BE(40));
    const entry = Buffer.alloc(8);
    entry.writeBigUInt64BE((1n << 63n) | (0x7fff0000n << 4n));
    await fh.write(entry, 0, 8, l1);
    await fh.close();
    const e = await qcow2.check(d, 'corrupt.qcow2').catch((x: unknown) => x);
    expect(isHullError(e, 'invalid')).toBe(true);
    expect((e as Error).message).toMatch(/disk image corrupt\.qcow2 is corrupt or unreadable/);
    const garbage = join(dir, 'garbage.qcow2');
    await writeFile(garbage, Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(100, 0xff)]));
    await expect(qcow2.check(garbage)).rejects.toThrow(/corrupt or unreadable/);
  });
});
