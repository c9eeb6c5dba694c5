import { execFileSync } from 'node:child_process';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha256 } from '../../src/image/content/digest.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ErrorCode, isHullError } from '../../src/core/errors.js';
import { ImageService } from '../../src/image/image-service.js';
import { writeOciLayout, writeTarsLayout } from '../../src/image/oci-layout-writer.js';
import { type PackEntry, packTar } from '../../src/image/tar-pack.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

/**
 * Layer unpacking: what a layer may express (owners, modes, links, devices,
 * whiteouts) survives, and what could reach outside the layer is refused
 * with a clear error, leaving no layer, blob, record or stray file.
 */
let work: string;
let outside: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hull-unpack-it-'));
  outside = await mkdtemp(join(tmpdir(), 'hull-outside-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

let root: string;
let store: SqliteStore;
let images: ImageService;
beforeEach(async () => {
  root = await mkdtemp(join(work, 'root-'));
  store = new SqliteStore(join(root, 'hull.db'));
  images = new ImageService(root, store, { maxLayerBytes: 256 * 1024 });
  return () => store.close();
});

const MTIME = new Date('2021-06-01T12:00:00Z');
const dir = (name: string, extra: object = {}): PackEntry => ({ header: { name, type: 'directory', mode: 0o755, mtime: MTIME, ...extra } });
const file = (name: string, data = name, extra: object = {}): PackEntry => ({
  header: { name, type: 'file', mode: 0o644, mtime: MTIME, ...extra },
  data: Buffer.from(data),
});
const symlink = (name: string, linkname: string): PackEntry => ({ header: { name, type: 'symlink', linkname, mtime: MTIME } });
const hardlink = (name: string, linkname: string): PackEntry => ({ header: { name, type: 'link', linkname, mtime: MTIME } });

async function layout(layers: PackEntry[][], opts: { gzip?: boolean } = {}): Promise<string> {
  const out = await mkdtemp(join(work, 'layout-'));
  await writeTarsLayout(out, await Promise.all(layers.map(packTar)), opts);
  return out;
}

/** Compressed by the zstd CLI, a writer Hull did not write. */
const zstd = (data: Buffer): Buffer => execFileSync('zstd', ['-q', '-c', '-19'], { input: data, maxBuffer: 64 << 20 });

const ls = async (...parts: string[]) => (await readdir(join(root, 'image', ...parts)).catch(() => [])).sort();

/** Import must fail with `code` and a message matching `msg`, leaving nothing behind. */
async function expectRefused(path: string, code: ErrorCode, msg: RegExp): Promise<void> {
  const err = await images.importPath(path, 'hostile').catch((e: unknown) => e);
  expect(isHullError(err, code), String(err)).toBe(true);
  expect((err as Error).message).toMatch(msg);
  expect(await ls('layers', 'sha256')).toEqual([]);
  expect(await ls('tmp')).toEqual([]);
  expect(await ls('blobs', 'sha256')).toEqual([]);
  expect(await images.list()).toEqual([]);
  expect(await readdir(outside)).toEqual([]);
}

describe('hostile layers are refused', () => {
  const tag = Math.random().toString(36).slice(2);

  it('a ../ path', async () => {
    await expectRefused(await layout([[file('../escape')]]), 'invalid', /layer entry "\.\.\/escape": "\.\." path components are not allowed/);
    const deep = `../../../../../../../..${outside}/deep`;
    await expectRefused(await layout([[file(deep)]]), 'invalid', /"\.\." path components/);
  });

  it('an absolute path', async () => {
    await expectRefused(await layout([[file(`${outside}/abs-${tag}`)]]), 'invalid', /absolute paths are not allowed/);
  });

  it('a write through a symlink', async () => {
    const hostile = await layout([[symlink('link', outside), file('link/file', 'pwned')]]);
    await expectRefused(hostile, 'invalid', /layer entry "link\/file": its path goes through the symlink "link"/);
    const relative = await layout([[dir('a'), symlink('a/up', '../../../../../../../..'), file(`a/up${outside}/x`)]]);
    await expectRefused(relative, 'invalid', /goes through the symlink "a\/up"/);
  });

  it('a symlink in a lower layer cannot be written through from an upper one', async () => {
    // Each layer unpacks into its own fresh directory, so the upper layer's link/ is a plain directory
    // there; overlayfs then shows that directory over the lower symlink.
    const [img] = await images.importPath(await layout([[symlink('link', outside)], [file('link/file')]]), 'stacked');
    const [lower, upper] = await images.layerDirs(img);
    expect(await readlink(join(lower, 'link'))).toBe(outside);
    expect((await lstat(join(upper, 'link'))).isDirectory()).toBe(true);
    expect(await readFile(join(upper, 'link/file'), 'utf8')).toBe('link/file');
    expect(await readdir(outside)).toEqual([]);
  });

  it('a directory replaced by a symlink does not get its mtime set through the link (found by the fuzz test)', async () => {
    const before = (await stat(outside)).mtimeMs;
    const [img] = await images.importPath(await layout([[dir('d'), symlink('d', outside)]]), 'swapped');
    const [diff] = await images.layerDirs(img);
    expect(await readlink(join(diff, 'd'))).toBe(outside);
    expect((await stat(outside)).mtimeMs).toBe(before);
    // A recorded directory whose parent was swapped for a link is skipped too, not an error.
    await images.importPath(await layout([[dir('e/f'), symlink('e', outside)]]), 'swapped-parent');
    expect((await stat(outside)).mtimeMs).toBe(before);
  });

  it('a hard link to outside or to nothing', async () => {
    await expectRefused(await layout([[hardlink('hl', '/etc/passwd')]]), 'invalid', /layer entry "hl": hard link target "\/etc\/passwd": absolute paths are not allowed/);
    await expectRefused(await layout([[hardlink('hl', '../../../../etc/passwd')]]), 'invalid', /"\.\." path components/);
    await expectRefused(await layout([[hardlink('hl', 'nothere')]]), 'invalid', /the target is not in the layer before it/);
    await expectRefused(await layout([[symlink('s', outside), hardlink('hl', 's/x')]]), 'invalid', /goes through a symlink/);
  });

  it('a blob whose content does not match its digest', async () => {
    const path = await layout([[file('a')]]);
    const index = JSON.parse(await readFile(join(path, 'index.json'), 'utf8'));
    const manifest = JSON.parse(await readFile(join(path, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    const layerBlob = join(path, 'blobs/sha256', manifest.layers[0].digest.slice(7));
    const good = await readFile(layerBlob);
    await writeFile(layerBlob, Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([good[good.length - 1] ^ 1])]));
    await expectRefused(path, 'invalid', /digest mismatch: expected sha256:[0-9a-f]{64}, got sha256:/);
  });

  it('a layer whose content is not its diff_id', async () => {
    const path = await mkdtemp(join(work, 'layout-'));
    const tar = await packTar([file('a')]);
    await writeTarsLayout(path, [tar]);
    const other = await mkdtemp(join(work, 'layout-'));
    // Same layer blob, config claiming another layer's diff_id.
    await writeOciLayout(other, {
      config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] } },
      layers: [{ blob: gzipSync(tar), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }],
    });
    await expectRefused(other, 'invalid', /uncompressed content is sha256:[0-9a-f]{64}, but the image config says sha256:0{64}/);
  });

  it('a decompression bomb', async () => {
    const bomb = await layout([[file('zeros', '\0'.repeat(1024 * 1024))]]);
    await expectRefused(bomb, 'resource', /unpacks to more than 262144 bytes/);
  });

  it('a corrupt zstd stream, a missing zstd binary, and a layer that is not a tar', async () => {
    const zstdLayout = async (blob: Buffer, diffId = `sha256:${'1'.repeat(64)}`) => {
      const out = await mkdtemp(join(work, 'layout-'));
      await writeOciLayout(out, {
        config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } },
        layers: [{ blob, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }],
      });
      return out;
    };
    const tar = await packTar([file('a', 'x'.repeat(100_000))]);
    const good = zstd(tar);
    const torn = Buffer.concat([good.subarray(0, 20), Buffer.alloc(64, 0xaa), good.subarray(84)]);
    await expectRefused(await zstdLayout(torn, sha256(tar)), 'invalid', /not a valid zstd stream \(zstd: .+\)/);
    await expectRefused(await zstdLayout(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])), 'invalid', /not a valid zstd stream/);
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expectRefused(await zstdLayout(good, sha256(tar)), 'unavailable', /zstd is not installed \(install the Debian package "zstd"\)/);
    } finally {
      process.env.PATH = path;
    }
    const junk = await mkdtemp(join(work, 'layout-'));
    await writeTarsLayout(junk, [Buffer.alloc(1024, 'x')]);
    await expectRefused(junk, 'invalid', /layer sha256:[0-9a-f]{64}: /);
  });

  it('a zstd bomb stops at the size limit', async () => {
    const tar = await packTar([file('zeros', '\0'.repeat(4 * 1024 * 1024))]);
    const out = await mkdtemp(join(work, 'layout-'));
    await writeOciLayout(out, {
      config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(tar)] } },
      layers: [{ blob: zstd(tar), mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }],
    });
    await expectRefused(out, 'resource', /unpacks to more than 262144 bytes/);
  });
});

describe('zstd layers', () => {
  it('a layer compressed by the zstd CLI unpacks like a gzip one', async () => {
    const tar = await packTar([dir('etc'), file('etc/conf', 'zstd-conf', { mode: 0o640 }), symlink('etc/l', 'conf')]);
    const out = await mkdtemp(join(work, 'layout-'));
    await writeOciLayout(out, {
      config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(tar)] } },
      layers: [{ blob: zstd(tar), mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }],
    });
    const [img] = await images.importPath(out, 'zst');
    const [diff] = await images.layerDirs(img);
    expect(await readFile(join(diff, 'etc/conf'), 'utf8')).toBe('zstd-conf');
    expect((await lstat(join(diff, 'etc/conf'))).mode & 0o7777).toBe(0o640);
    expect(await readlink(join(diff, 'etc/l'))).toBe('conf');
  });
});

describe('what a layer may express survives', () => {
  it('owners, modes, mtimes, links, devices and fifos', async () => {
    const path = await layout(
      [
        [
          dir('./', { mode: 0o755 }),
          dir('etc', { mode: 0o750, uid: 1000, gid: 1001 }),
          file('etc/conf', 'conf', { mode: 0o640, uid: 1000, gid: 1001 }),
          file('bin/su', 'su', { mode: 0o4755 }),
          hardlink('etc/conf-link', 'etc/conf'),
          symlink('etc/abs-link', '/etc/passwd'),
          { header: { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666, mtime: MTIME } },
          { header: { name: 'run/fifo', type: 'fifo', mode: 0o600, mtime: MTIME } },
          file('replaced', 'first'),
          symlink('replaced', 'etc/conf'),
        ],
      ],
      { gzip: false },
    );
    const [img] = await images.importPath(path, 'features');
    const [diff] = await images.layerDirs(img);
    const conf = await lstat(join(diff, 'etc/conf'));
    expect([conf.uid, conf.gid, conf.mode & 0o7777, conf.mtime.getTime()]).toEqual([1000, 1001, 0o640, MTIME.getTime()]);
    const etc = await lstat(join(diff, 'etc'));
    expect([etc.uid, etc.mode & 0o7777, etc.mtime.getTime()]).toEqual([1000, 0o750, MTIME.getTime()]);
    expect((await lstat(join(diff, 'bin/su'))).mode & 0o7777).toBe(0o4755);
    expect((await lstat(join(diff, 'etc/conf-link'))).ino).toBe(conf.ino);
    expect(await readlink(join(diff, 'etc/abs-link'))).toBe('/etc/passwd');
    const dev = await lstat(join(diff, 'dev/null'));
    expect(dev.isCharacterDevice() && dev.rdev === (1 << 8) + 3).toBe(true);
    expect((await lstat(join(diff, 'run/fifo'))).isFIFO()).toBe(true);
    expect(await readlink(join(diff, 'replaced'))).toBe('etc/conf');
    // An absolute symlink is kept as it is, and never followed while unpacking.
    expect((await stat('/etc/passwd')).uid).toBe(0);
  });

  it('OCI whiteouts become overlayfs whiteouts', async () => {
    const path = await layout([
      [dir('data'), file('data/old'), file('data/gone'), dir('cache'), file('cache/stale')],
      [dir('data'), file('data/.wh.gone'), dir('cache'), file('cache/.wh..wh..opq'), file('cache/fresh'), file('.wh..wh.plnk')],
    ]);
    const [img] = await images.importPath(path, 'wh');
    const [, upper] = await images.layerDirs(img);
    const wh = await lstat(join(upper, 'data/gone'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect((await readdir(join(upper, 'data'))).sort()).toEqual(['gone']);
    const xattr = execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'trusted.overlay.opaque', join(upper, 'cache')]).toString();
    expect(xattr).toBe('y');
    expect((await readdir(join(upper, 'cache'))).sort()).toEqual(['fresh']);
    expect((await readdir(upper)).sort()).toEqual(['cache', 'data']);
  });
});

describe('xattrs from PAX headers', () => {
  const getfattr = (path: string): string =>
    execFileSync('getfattr', ['--absolute-names', '-h', '-d', '-m', '-', '-e', 'hex', path]).toString();

  it('GNU tar --xattrs: user.* and a binary security.capability are kept byte for byte', async () => {
    // A layer written by GNU tar (a writer Hull did not write), from files carrying real xattrs.
    const src = await mkdtemp(join(work, 'xattr-src-'));
    execFileSync('mkdir', ['-p', join(src, 'bin'), join(src, 'data')]);
    await writeFile(join(src, 'bin/ping'), 'not really ping');
    execFileSync('setfattr', ['-n', 'user.test', '-v', 'hello', join(src, 'bin/ping')]);
    // cap_setuid is bit 7: the value has a 0x80 byte, which is not valid UTF-8.
    execFileSync('setcap', ['cap_net_raw,cap_setuid+ep', join(src, 'bin/ping')]);
    execFileSync('setfattr', ['-n', 'user.dir', '-v', '0x00ff80', join(src, 'data')]);
    const want = getfattr(join(src, 'bin/ping')).split('\n').slice(1).join('\n');
    expect(want).toMatch(/security\.capability=0x(?:[0-9a-f]{2})*[89a-f][0-9a-f]/);
    const tar = execFileSync('tar', ['--xattrs', "--xattrs-include=*", '--format=posix', '-C', src, '-cf', '-', 'bin', 'data'], { maxBuffer: 64 << 20 });
    expect(tar.includes('SCHILY.xattr.security.capability=')).toBe(true);
    const out = await mkdtemp(join(work, 'layout-'));
    await writeTarsLayout(out, [tar]);
    const [img] = await images.importPath(out, 'caps');
    const [diff] = await images.layerDirs(img);
    expect(getfattr(join(diff, 'bin/ping')).split('\n').slice(1).join('\n')).toBe(want);
    expect(getfattr(join(diff, 'bin/ping'))).toMatch(/user\.test=0x68656c6c6f\n/);
    expect(getfattr(join(diff, 'data'))).toMatch(/user\.dir=0x00ff80\n/);
    expect(execFileSync('getcap', [join(diff, 'bin/ping')]).toString()).toMatch(/cap_setuid,cap_net_raw[=+]ep/);
    expect(await readFile(join(diff, 'bin/ping'), 'utf8')).toBe('not really ping');
  });

  it('LIBARCHIVE.xattr (base64) is applied; trusted.overlay.* from an image is not', async () => {
    const path = await layout([
      [
        dir('cache', { pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.kept': 'yes' } }),
        file('cache/f', 'f', { pax: { 'LIBARCHIVE.xattr.user.b64': Buffer.from([0, 0xff, 0x80]).toString('base64') } }),
        file('gone', 'g', { pax: { 'SCHILY.xattr.user.stale': 'x' } }),
        file('gone', 'replaced'),
        { header: { name: 'link', type: 'symlink', linkname: 'cache/f', mtime: MTIME, pax: { 'SCHILY.xattr.user.nope': 'x' } } },
      ],
      [dir('opq'), file('opq/.wh..wh..opq')],
    ]);
    const [img] = await images.importPath(path, 'xattrs');
    const [lower, upper] = await images.layerDirs(img);
    const cache = getfattr(join(lower, 'cache'));
    expect(cache).toMatch(/user\.kept=0x796573\n/);
    expect(cache).not.toMatch(/trusted\.overlay/);
    expect(getfattr(join(lower, 'cache/f'))).toMatch(/user\.b64=0x00ff80\n/);
    expect(getfattr(join(lower, 'gone'))).not.toMatch(/user\.stale/); // a later entry of the same name has none
    expect(getfattr(join(lower, 'link'))).not.toMatch(/user\./); // the kernel allows no user.* on a symlink
    // Hull's own whiteout conversion still sets the opaque marker.
    expect(getfattr(join(upper, 'opq'))).toMatch(/trusted\.overlay\.opaque=0x79\n/);
  });
});
