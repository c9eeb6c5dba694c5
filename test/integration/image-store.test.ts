import { execFileSync } from 'node:child_process';
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { isHullError } from '../../src/core/errors.js';
import { buildBusyboxLayout } from '../../src/image/busybox-layout.js';
import { sha256 } from '../../src/image/content/digest.js';
import { ImageService } from '../../src/image/image-service.js';
import { writeTarsLayout } from '../../src/image/oci-layout-writer.js';
import { type PackEntry, packTar } from '../../src/image/tar-pack.js';
import { LayerStore } from '../../src/image/unpack/layer-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

/**
 * The image subsystem end to end on a real disk: the built-in busybox layout,
 * a layout written by umoci (a real peer), docker-save and OCI layout tars.
 */
let work: string;
let busyboxLayout: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hull-image-it-'));
  busyboxLayout = join(work, 'busybox-layout');
  await buildBusyboxLayout(busyboxLayout);
});
afterAll(() => rm(work, { recursive: true, force: true }));

let root: string;
let store: SqliteStore;
let images: ImageService;
const notInUse = { inUse: async () => false };

beforeEach(async () => {
  root = await mkdtemp(join(work, 'root-'));
  store = new SqliteStore(join(root, 'hull.db'));
  images = new ImageService(root, store);
  return () => store.close();
});

const files = async (dir: string): Promise<string[]> => (await readdir(dir).catch(() => [])).sort();
const blobs = () => files(join(root, 'image', 'blobs', 'sha256'));
const layers = () => files(join(root, 'image', 'layers', 'sha256'));

describe('the built-in busybox layout', () => {
  it('is deterministic and a rebuild is a no-op', async () => {
    const again = join(work, 'busybox-again');
    const a = await buildBusyboxLayout(again);
    const b = await buildBusyboxLayout(again);
    expect(a.changed).toBe(true);
    expect(b).toEqual({ manifestDigest: a.manifestDigest, changed: false });
    const index = JSON.parse(await readFile(join(busyboxLayout, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(a.manifestDigest);
  });
});

describe('ImageService with busybox', () => {
  it('imports, tags, lists and resolves', async () => {
    const [img] = await images.importPath(busyboxLayout, 'busybox');
    expect(img.tags).toEqual(['busybox:latest']);
    expect(img.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(img.config).toMatchObject({ Cmd: ['sh'], Env: [expect.stringContaining('PATH=')] });
    expect(img).toMatchObject({ os: 'linux', architecture: 'amd64' });
    expect(await images.list()).toEqual([img]);
    const hex = img.id.slice(7);
    for (const ref of ['busybox', 'busybox:latest', 'docker.io/library/busybox:latest', img.id, `sha256:${hex.slice(0, 5)}`, hex.slice(0, 12), hex]) {
      expect((await images.resolve(ref)).id, ref).toBe(img.id);
    }
    const err = await images.resolve('nope').catch((e: unknown) => e);
    expect(isHullError(err, 'not_found')).toBe(true);
    expect((err as Error).message).toBe('image "nope:latest" not found');
    await expect(images.resolve('busybox:other')).rejects.toThrow('image "busybox:other" not found');
  });

  it('keeps a bare ref.name tag for the name given, and imports untagged without one', async () => {
    const [untagged] = await images.importPath(busyboxLayout);
    expect(untagged.tags).toEqual([]);
    const [named] = await images.importPath(busyboxLayout, 'quay.io/me/box');
    expect(named.id).toBe(untagged.id);
    expect(named.tags).toEqual(['quay.io/me/box:latest']);
  });

  it('does not duplicate on a second import, and unpacks each layer once', async () => {
    const [first] = await images.importPath(busyboxLayout, 'busybox');
    const blobsBefore = await blobs();
    const dirs = await images.layerDirs(first);
    const ino = (await stat(dirs[0])).ino;
    const unpack = vi.spyOn(LayerStore.prototype as unknown as { unpackInto: () => Promise<void> }, 'unpackInto');
    try {
      const [second] = await images.importPath(busyboxLayout, 'busybox');
      expect(second.id).toBe(first.id);
      expect(await images.list()).toHaveLength(1);
      expect(await blobs()).toEqual(blobsBefore);
      await Promise.all([images.layerDirs(first), images.layerDirs(first)]);
      expect(unpack).not.toHaveBeenCalled();
      expect((await stat(dirs[0])).ino).toBe(ino);
    } finally {
      unpack.mockRestore();
    }
  });

  it('shares one unpack between concurrent requests for a missing layer', async () => {
    const [img] = await images.importPath(busyboxLayout, 'busybox');
    await rm(join(root, 'image', 'layers'), { recursive: true });
    const unpack = vi.spyOn(LayerStore.prototype as unknown as { unpackInto: () => Promise<void> }, 'unpackInto');
    try {
      const [a, b] = await Promise.all([images.layerDirs(img), images.layerDirs(img)]);
      expect(a).toEqual(b);
      expect(unpack).toHaveBeenCalledTimes(1);
    } finally {
      unpack.mockRestore();
    }
  });

  it('gives layer dirs holding the rootfs', async () => {
    const [img] = await images.importPath(busyboxLayout, 'busybox');
    const dirs = await images.layerDirs(img);
    expect(dirs).toEqual([join(root, 'image', 'layers', 'sha256', img.diffIds[0].slice(7), 'diff')]);
    const diff = dirs[0];
    expect((await stat(join(diff, 'bin/busybox'))).mode & 0o777).toBe(0o755);
    expect(await readlink(join(diff, 'bin/sh'))).toBe('busybox');
    expect((await stat(join(diff, 'tmp'))).mode & 0o7777).toBe(0o1777);
    expect(await readFile(join(diff, 'etc/passwd'), 'utf8')).toMatch(/^root:x:0:0:/);
    expect((await stat(join(diff, 'etc'))).mtime.toISOString()).toBe('2000-01-01T00:00:00.000Z');
    expect(execFileSync(join(diff, 'bin/busybox'), ['echo', 'ok']).toString()).toBe('ok\n');
    expect(await files(join(root, 'image', 'tmp'))).toEqual([]);
  });

  it('moves a tag atomically and removes by tag, then by id', async () => {
    const [img] = await images.importPath(busyboxLayout, 'busybox');
    await images.importPath(busyboxLayout, 'mybox:1');
    expect((await images.resolve('busybox')).tags).toEqual(['busybox:latest', 'mybox:1']);

    // A name on an image with other names only loses that name.
    expect(await images.remove('mybox:1', notInUse)).toEqual({ untagged: ['mybox:1'], deleted: [] });

    // In use: refused, unless forced, and forcing keeps the image for its container.
    const inUse = async (id: string) => id === img.id;
    const err = await images.remove('busybox', { inUse }).catch((e: unknown) => e);
    expect(isHullError(err, 'conflict')).toBe(true);
    expect((err as Error).message).toMatch(/in use/);
    expect(await images.remove('busybox', { inUse, force: true })).toEqual({ untagged: ['busybox:latest'], deleted: [] });
    expect((await images.resolve(img.id)).tags).toEqual([]);
    expect(await layers()).toHaveLength(1);

    const removed = await images.remove(img.id.slice(7, 19), notInUse);
    expect(removed).toEqual({ untagged: [], deleted: [img.id, img.diffIds[0]] });
    expect(await images.list()).toEqual([]);
    expect(await blobs()).toEqual([]);
    expect(await layers()).toEqual([]);
  });

  it('refuses to remove by id an image with several names unless forced', async () => {
    const [img] = await images.importPath(busyboxLayout, 'busybox');
    await images.importPath(busyboxLayout, 'other');
    await expect(images.remove(img.id, notInUse)).rejects.toThrow(/several names/);
    const r = await images.remove(img.id, { ...notInUse, force: true });
    expect(r.untagged.sort()).toEqual(['busybox:latest', 'other:latest']);
    expect(r.deleted[0]).toBe(img.id);
  });

  it('ensureBuiltin imports busybox:latest once', async () => {
    await images.ensureBuiltin(busyboxLayout);
    await images.ensureBuiltin(join(work, 'does-not-exist')); // already there: the layout is not read
    expect((await images.list()).map((i) => i.tags)).toEqual([['busybox:latest']]);
  });
});

describe('archives from other writers', () => {
  it('imports a layout made by umoci, with its whiteouts as overlay whiteouts', async () => {
    const layout = join(root, 'umoci-layout');
    const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: 'pipe' });
    umoci('init', '--layout', layout);
    umoci('new', '--image', `${layout}:t`);
    // Each repack diffs against the bundle's own unpack, so each layer gets a fresh bundle.
    const b1 = join(root, 'bundle1');
    umoci('unpack', '--image', `${layout}:t`, b1);
    await mkdir(join(b1, 'rootfs/data'), { recursive: true });
    await writeFile(join(b1, 'rootfs/data/keep'), 'keep');
    await writeFile(join(b1, 'rootfs/data/gone'), 'gone');
    umoci('repack', '--image', `${layout}:t`, b1);
    const b2 = join(root, 'bundle2');
    umoci('unpack', '--image', `${layout}:t`, b2);
    await rm(join(b2, 'rootfs/data/gone'));
    umoci('repack', '--image', `${layout}:t`, b2);

    const [img] = await images.importPath(layout, 'peer');
    expect(img.tags).toEqual(['peer:t']);
    const dirs = await images.layerDirs(img);
    expect(dirs).toHaveLength(2);
    const [withFiles, withWhiteout] = dirs;
    expect(await readFile(join(withFiles, 'data/keep'), 'utf8')).toBe('keep');
    const wh = await lstat(join(withWhiteout, 'data/gone'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
  });

  it('imports a docker-save tar written by skopeo', async () => {
    const archive = join(root, 'skopeo.tar');
    execFileSync('skopeo', ['copy', '--quiet', `oci:${busyboxLayout}:latest`, `docker-archive:${archive}:sk/busybox:v1`], { stdio: 'pipe' });
    const [img] = await images.importPath(archive);
    expect(img.tags).toEqual(['sk/busybox:v1']);
    // The config is the same bytes as in the OCI layout, so it is the same image id.
    const index = JSON.parse(await readFile(join(busyboxLayout, 'index.json'), 'utf8'));
    const manifest = JSON.parse(await readFile(join(busyboxLayout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    expect(img.id).toBe(manifest.config.digest);
    expect(img.layers[0]).toMatchObject({ digest: img.diffIds[0], mediaType: 'application/vnd.oci.image.layer.v1.tar' });
    const [diff] = await images.layerDirs(img);
    expect(await readlink(join(diff, 'bin/sh'))).toBe('busybox');
  });

  it('imports a docker-save tar, including a layer saved as a symlink to another', async () => {
    const layer = await packTar([
      { header: { name: 'app', type: 'directory', mode: 0o755 } },
      { header: { name: 'app/hello.txt', type: 'file', mode: 0o644 }, data: Buffer.from('hello') },
    ]);
    const diffId = sha256(layer);
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/app/run'], Env: null }, rootfs: { type: 'layers', diff_ids: [diffId, diffId] } }),
    );
    const cfgName = `${sha256(config).slice(7)}.json`;
    const manifest = [{ Config: cfgName, RepoTags: ['myapp:1.0', 'docker.io/library/myapp:latest'], Layers: ['l1/layer.tar', 'l2/layer.tar'] }];
    const archive = join(root, 'save.tar');
    const entries: PackEntry[] = [
      { header: { name: 'l1', type: 'directory' } },
      { header: { name: 'l1/layer.tar', type: 'file' }, data: layer },
      { header: { name: 'l1/VERSION', type: 'file' }, data: Buffer.from('1.0') },
      { header: { name: 'l2', type: 'directory' } },
      { header: { name: 'l2/layer.tar', type: 'symlink', linkname: '../l1/layer.tar' } },
      { header: { name: cfgName, type: 'file' }, data: config },
      { header: { name: 'manifest.json', type: 'file' }, data: Buffer.from(JSON.stringify(manifest)) },
    ];
    await writeFile(archive, await packTar(entries));

    const [img] = await images.importPath(archive);
    expect(img.id).toBe(sha256(config));
    expect(img.tags).toEqual(['myapp:1.0', 'myapp:latest']);
    expect(img.config).toEqual({ Cmd: ['/app/run'] });
    expect(img.layers.map((l) => l.digest)).toEqual([diffId, diffId]);
    const dirs = await images.layerDirs(img);
    expect(dirs[0]).toBe(dirs[1]);
    expect(await readFile(join(dirs[0], 'app/hello.txt'), 'utf8')).toBe('hello');
    // Only the config, the one layer and the manifest written for it stay; VERSION and manifest.json go.
    expect(await blobs()).toHaveLength(3);

    // docker load also takes a gzip-compressed save.
    await writeFile(`${archive}.gz`, gzipSync(await readFile(archive)));
    const [again] = await images.importPath(`${archive}.gz`, 'myapp:gz');
    expect(again.id).toBe(img.id);
    expect(await blobs()).toHaveLength(3);
  });

  it('imports an OCI layout tar (written by GNU tar, ./ names) as the same image as the directory', async () => {
    const archive = join(root, 'busybox-oci.tar');
    execFileSync('tar', ['-C', busyboxLayout, '-cf', archive, '.']);
    const [fromTar] = await images.importPath(archive, 'busybox');
    const [fromDir] = await images.importPath(busyboxLayout, 'busybox');
    expect(fromTar.id).toBe(fromDir.id);
    expect(await images.list()).toHaveLength(1);
    expect(await blobs()).toHaveLength(3);
  });

  it('picks linux/amd64 from a multi-platform index', async () => {
    const out = join(root, 'multi');
    const manifests = [];
    for (const architecture of ['arm64', 'amd64']) {
      const one = join(root, `one-${architecture}`);
      const tar = await packTar([{ header: { name: 'arch', type: 'file' }, data: Buffer.from(architecture) }]);
      await writeTarsLayout(one, [tar], { architecture });
      await mkdir(join(out, 'blobs/sha256'), { recursive: true });
      for (const b of await readdir(join(one, 'blobs/sha256'))) await copyFile(join(one, 'blobs/sha256', b), join(out, 'blobs/sha256', b));
      const desc = JSON.parse(await readFile(join(one, 'index.json'), 'utf8')).manifests[0];
      manifests.push({ ...desc, platform: { os: 'linux', architecture } });
    }
    const nested = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
    await writeFile(join(out, 'blobs/sha256', sha256(nested).slice(7)), nested);
    const top = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(nested), size: nested.length, annotations: { 'org.opencontainers.image.ref.name': 'multi:1' } };
    await writeFile(join(out, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [top] }));
    await writeFile(join(out, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');

    const [img] = await images.importPath(out);
    expect(img).toMatchObject({ architecture: 'amd64', tags: ['multi:1'] });
    const [diff] = await images.layerDirs(img);
    expect(await readFile(join(diff, 'arch'), 'utf8')).toBe('amd64');
    // The arm64 blobs and the nested index were not kept.
    expect(await blobs()).toHaveLength(3);
  });

  it('says clearly when a path is not an image archive', async () => {
    await mkdir(join(root, 'empty'));
    await expect(images.importPath(join(root, 'empty'))).rejects.toThrow(/neither an OCI image layout .* nor a docker save archive/);
    await expect(images.importPath(join(root, 'missing'))).rejects.toThrow(/not found/);
  });
});
