import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { sha256 } from '../../src/image/content/digest.js';
import { writeTarsLayout } from '../../src/image/oci-layout-writer.js';
import { MediaType } from '../../src/image/oci-types.js';
import { packTar } from '../../src/image/tar-pack.js';

/** Image layouts for registry tests: random (incompressible) layers, runnable over a busybox layer. */

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface LayoutInfo {
  manifestDigest: string;
  layerDigests: string[];
}

/** The built-in busybox layout's one layer, as a plain tar. */
export async function busyboxTar(busyboxLayout: string): Promise<Buffer> {
  const index = JSON.parse(await readFile(join(busyboxLayout, 'index.json'), 'utf8'));
  const blob = (d: string) => readFile(join(busyboxLayout, 'blobs', 'sha256', d.slice(7)));
  const manifest = JSON.parse((await blob(index.manifests[0].digest)).toString());
  return gunzipSync(await blob(manifest.layers[0].digest));
}

/** A layer holding one file of `bytes` random bytes at /data/<name>. */
export function randomLayer(name: string, bytes: number): Promise<Buffer> {
  return packTar([
    { header: { name: 'data', type: 'directory', mode: 0o755 } },
    { header: { name: `data/${name}`, type: 'file', mode: 0o644 }, data: randomBytes(bytes) },
  ]);
}

/** An OCI layout of uncompressed layers (so layer digests are the tars' sha256), runnable with sh if a busybox layer is in. */
export async function imageLayout(dir: string, tars: Buffer[], refName = 'latest'): Promise<LayoutInfo> {
  const { manifestDigest } = await writeTarsLayout(dir, tars, { gzip: false, refName, config: { Env: [PATH_ENV], Cmd: ['sh'] } });
  return { manifestDigest, layerDigests: tars.map((t) => sha256(t)) };
}

/**
 * An OCI layout whose `ref.name` entry is an image index with a linux/amd64
 * image (busybox plus /arch saying amd64) and a linux/arm64 one, for
 * `skopeo copy --all` to push as a multi-platform image.
 */
export async function multiArchLayout(dir: string, busybox: Buffer, refName: string): Promise<{ indexDigest: string }> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (data: Buffer, mediaType: string) => {
    const digest = sha256(data);
    await writeFile(join(blobs, digest.slice(7)), data);
    return { mediaType, digest, size: data.length };
  };
  const image = async (arch: string) => {
    const marker = await packTar([{ header: { name: 'arch', type: 'file', mode: 0o644 }, data: Buffer.from(`${arch}\n`) }]);
    const layers = [busybox, marker];
    const config = { architecture: arch, os: 'linux', config: { Env: [PATH_ENV], Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) } };
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: await put(Buffer.from(JSON.stringify(config)), MediaType.ociConfig),
      layers: await Promise.all(layers.map((l) => put(l, MediaType.ociLayer))),
    };
    return { ...(await put(Buffer.from(JSON.stringify(manifest)), MediaType.ociManifest)), platform: { os: 'linux', architecture: arch } };
  };
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [await image('arm64'), await image('amd64')] };
  const top = await put(Buffer.from(JSON.stringify(index)), MediaType.ociIndex);
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': refName } }] }));
  return { indexDigest: top.digest };
}

/** An OCI layout made by umoci (a writer Hull never saw): busybox-static plus /hello.txt. */
export async function umociLayout(dir: string, work: string, tag: string): Promise<void> {
  const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: 'pipe' });
  umoci('init', '--layout', dir);
  umoci('new', '--image', `${dir}:${tag}`);
  const bundle = join(work, 'umoci-bundle');
  umoci('unpack', '--image', `${dir}:${tag}`, bundle);
  await mkdir(join(bundle, 'rootfs', 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(bundle, 'rootfs', 'bin', 'busybox'));
  await symlink('busybox', join(bundle, 'rootfs', 'bin', 'sh'));
  await writeFile(join(bundle, 'rootfs', 'hello.txt'), 'hello from umoci\n');
  umoci('repack', '--image', `${dir}:${tag}`, bundle);
  umoci('config', '--image', `${dir}:${tag}`, '--config.cmd', '/bin/busybox', '--config.cmd', 'cat', '--config.cmd', '/hello.txt');
}
