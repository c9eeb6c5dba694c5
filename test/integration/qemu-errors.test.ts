import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHullError } from '../../src/core/errors.js';
import { QemuDriver } from '../../src/runtime/qemu/driver.js';
import { loadGuest, type GuestArtifacts } from '../../src/runtime/qemu/guest.js';
import { VmImages } from '../../src/runtime/qemu/images.js';
import type { VmSpec } from '../../src/runtime/qemu/spec.js';
import { vmInstance } from '../../src/runtime/qemu/testing.js';
import * as qcow2 from '../../src/storage/qcow2.js';

/** Bad input: a clear error, and nothing half-made left (no VM directory, disk, socket or QEMU). */
let root: string;
let guest: GuestArtifacts;
let images: VmImages;
let d: QemuDriver;

beforeAll(async () => {
  root = await mkdtemp('/tmp/hull-vmerr-');
  guest = await loadGuest();
  images = new VmImages(root);
  await images.ensureBuiltin(guest);
  d = new QemuDriver({ root, images, guest: async () => guest, accel: async () => ({ accel: 'tcg', reason: 'test' }) });
});
afterAll(async () => {
  await d.close();
  await rm(root, { recursive: true, force: true });
});

const vmDirs = () => readdir(join(root, 'vms')).catch(() => [] as string[]);
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('QEMU driver: bad input', () => {
  it('a missing image', async () => {
    const e = await failure(d.create(vmInstance('a', { image: 'no-such-image' })));
    expect(isHullError(e, 'not_found')).toBe(true);
    expect((e as Error).message).toBe('VM image "no-such-image" not found');
    expect(await vmDirs()).toEqual([]);
  });

  it('Hull\'s guest not built', async () => {
    const bare = new QemuDriver({ root, images: new VmImages(join(root, 'elsewhere')), guest: () => loadGuest(join(root, 'no-guest')) });
    const e = await failure(bare.create(vmInstance('g')));
    expect(isHullError(e, 'unavailable')).toBe(true);
    expect((e as Error).message).toMatch(/VM guest is not built .*run `npm run setup`/);
    expect(await vmDirs()).toEqual([]);
  });

  it('a corrupt base image', async () => {
    const src = join(root, 'good.qcow2');
    await copyFile(guest.baseDisk, src);
    await images.importFile(src, { name: 'soon-corrupt', boot: 'hull' });
    const img = await images.get('soon-corrupt');
    // Overwrite the qcow2 header's L1 table offset with garbage.
    const fh = await open(img.path, 'r+');
    await fh.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00]), 0, 8, 40);
    await fh.close();
    const e = await failure(d.create(vmInstance('b', { image: 'soon-corrupt' })));
    expect(isHullError(e, 'invalid')).toBe(true);
    expect((e as Error).message).toMatch(/disk image of VM image "soon-corrupt" .* is corrupt or unreadable/);
    expect(await vmDirs()).toEqual([]);
    await expect(images.importFile(img.path, { name: 'copy-of-corrupt' })).rejects.toThrow(/corrupt or unreadable/);
    expect((await images.list()).map((i) => i.name)).not.toContain('copy-of-corrupt');
  });

  it('more memory than the host has, more CPUs than it has', async () => {
    const mem = await failure(d.create(vmInstance('c', { memoryBytes: 2 ** 50 })));
    expect(isHullError(mem, 'resource')).toBe(true);
    expect((mem as Error).message).toMatch(/^not enough memory: the VM asks for 1024\.0TiB and the host has .* available$/);
    const cpus = await failure(d.create(vmInstance('c', { cpus: 4096 })));
    expect(isHullError(cpus, 'resource')).toBe(true);
    expect(await vmDirs()).toEqual([]);
  });

  it('QEMU failing to start: its stderr in the error, no process or socket left, the VM still there to fix', { timeout: 60_000 }, async () => {
    const inst = vmInstance('broken');
    await d.create(inst);
    const files = d.files(inst);
    const spec = JSON.parse(await readFile(files.spec, 'utf8')) as VmSpec;
    await writeFile(files.spec, JSON.stringify({ ...spec, cdrom: join(root, 'missing.iso') }));
    const e = await failure(d.start(inst, { layerDirs: [] }));
    expect(isHullError(e, 'internal')).toBe(true);
    expect((e as Error).message).toMatch(/^qemu-system-x86_64 failed to start: .*missing\.iso.*No such file or directory/);
    for (const f of files.runtimeFiles) expect(existsSync(f), f).toBe(false);
    expect((await d.status(inst)).status).toBe('absent');
    expect(await d.exitStatus(inst)).toBeUndefined();
    await d.remove(inst);
    expect(await vmDirs()).toEqual([]);
  });

  it('snapshots: a bad name, a missing one, a duplicate; a restore over a running VM needs force', { timeout: 90_000 }, async () => {
    const inst = vmInstance('snaps');
    await d.create(inst);
    await expect(d.snapshotCreate(inst, 'bad name')).rejects.toThrow(/invalid snapshot name/);
    await expect(d.snapshotRestore(inst, 'nope')).rejects.toThrow(/snapshot "nope" not found/);
    await d.snapshotCreate(inst, 'one');
    const dup = await failure(d.snapshotCreate(inst, 'one'));
    expect(isHullError(dup, 'conflict')).toBe(true);
    await d.init(inst, { layerDirs: [] }); // QEMU up, paused before the guest's first instruction
    expect((await d.status(inst)).status).toBe('created');
    const e = await failure(d.snapshotRestore(inst, 'one'));
    expect(isHullError(e, 'wrong_state')).toBe(true);
    expect((e as Error).message).toMatch(/use --force/);
    const diskOnly = await failure(d.snapshotRestore(inst, 'one', { force: true }));
    expect((diskOnly as Error).message).toMatch(/disk-only snapshot: stop VM snaps/);
    await d.stop(inst, 0);
    await d.remove(inst);
  });

  it('VM images: raw and ISO imports, a name in use, an image in use', { timeout: 60_000 }, async () => {
    const raw = join(root, 'disk.raw');
    await writeFile(raw, Buffer.alloc(4 << 20));
    const r = await images.importFile(raw, { name: 'rawdisk' });
    expect(r).toMatchObject({ format: 'qcow2', boot: 'firmware', virtualSize: 4 << 20 });
    expect((await qcow2.info(r.path)).format).toBe('qcow2');
    await expect(images.importFile(raw, { name: 'rawdisk' })).rejects.toThrow(/already exists/);

    const iso = join(root, 'cd.iso');
    const fh = await open(iso, 'w');
    await fh.write(Buffer.from('\x01CD001\x01', 'latin1'), 0, 7, 0x8000);
    await fh.truncate(1 << 20);
    await fh.close();
    expect(await images.importFile(iso, { name: 'installer' })).toMatchObject({ format: 'iso', boot: 'firmware' });
    const inst = vmInstance('from-iso', { image: 'installer', vm: { diskBytes: 64 << 20 } });
    await d.create(inst);
    const spec = await d.spec(inst);
    expect(spec.cdrom).toMatch(/cdrom\.iso$/);
    expect((await qcow2.info(d.files(inst).disk)).virtualSize).toBe(64 << 20);
    const inUse = await failure(images.remove('installer'));
    expect(isHullError(inUse, 'conflict')).toBe(true);
    await d.remove(inst);
    await images.remove('installer');
    await images.remove('rawdisk');
    expect((await images.list()).map((i) => i.name).sort()).toEqual(['debian-min', 'soon-corrupt']);
  });
});
