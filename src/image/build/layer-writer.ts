import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';

type Hdr = Partial<tar.Header> & { name: string };
import type { ContentStore } from '../content/content-store.js';
import { run } from '../exec.js';
import { MediaType } from '../oci-types.js';

export interface WrittenLayer {
  /** The gzip blob in the content store. */
  digest: string;
  size: number;
  mediaType: string;
  /** sha256 of the uncompressed tar (rootfs.diff_ids). */
  diffId: string;
}

export interface LayerWriteOptions {
  /** Relative paths to leave out (mount-point stubs the runtime made). */
  skip?: (rel: string, st: Stats) => boolean;
}

/**
 * Turn a directory holding one layer's changes (an overlay `upper` dir after
 * a RUN, or a dir COPY filled) into an OCI layer blob: a tar of every entry
 * in sorted order, with overlay whiteouts (0:0 character devices) written as
 * `.wh.NAME` and opaque directories (trusted.overlay.opaque=y) as
 * `DIR/.wh..wh..opq`; hard links inside the dir stay hard links. The tar is
 * gzipped into the content store while it is written; its sha256 is the
 * diff_id.
 */
export async function writeLayer(content: ContentStore, dir: string, opts: LayerWriteOptions = {}): Promise<WrittenLayer> {
  const opaque = await opaqueDirs(dir);
  const pack = tar.pack();
  const hash = createHash('sha256');
  const hasher = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const gz = new PassThrough();
  const written = pipeline(pack as unknown as NodeJS.ReadableStream, hasher, createGzip({ level: 6 }), gz);
  const stored = content.writeBlob(gz as unknown as AsyncIterable<Uint8Array>);
  written.catch(() => undefined);
  stored.catch(() => undefined);
  try {
    await new Walker(pack, dir, opaque, opts.skip).walk('');
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
    throw e;
  }
  await written;
  const blob = await stored;
  return { digest: blob.digest, size: blob.size, mediaType: MediaType.ociLayerGzip, diffId: `sha256:${hash.digest('hex')}` };
}

/** Directories under `dir` marked opaque, as paths relative to it: one getfattr for the whole tree. */
async function opaqueDirs(dir: string): Promise<Set<string>> {
  // Dump mode (-d -m) skips files without the attribute instead of failing on them.
  const out = await run('getfattr', ['-R', '-P', '--absolute-names', '-d', '-m', '^trusted\\.overlay\\.opaque$', '-e', 'text', dir], 120_000);
  const set = new Set<string>();
  let file = '';
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) file = line.slice(8);
    else if (line === 'trusted.overlay.opaque="y"' && file.startsWith(dir)) set.add(file.slice(dir.length).replace(/^\/+/, ''));
  }
  return set;
}

class Walker {
  private readonly links = new Map<string, string>();
  constructor(
    private readonly pack: tar.Pack,
    private readonly root: string,
    private readonly opaque: Set<string>,
    private readonly skip?: (rel: string, st: Stats) => boolean,
  ) {}

  async walk(rel: string): Promise<void> {
    const names = (await readdir(join(this.root, rel))).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(this.root, path));
      if (this.skip?.(path, st)) continue;
      await this.entry(path, name, st);
      if (st.isDirectory()) {
        if (this.opaque.has(path)) await this.add({ name: `${path}/.wh..wh..opq`, type: 'file', mode: 0o644, mtime: st.mtime });
        await this.walk(path);
      }
    }
  }

  private async entry(path: string, name: string, st: Stats): Promise<void> {
    const base = { name: path, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
    if (st.isCharacterDevice() && st.rdev === 0) {
      const parent = path.slice(0, path.length - name.length);
      return this.add({ name: `${parent}.wh.${name}`, type: 'file', mode: 0o644, mtime: st.mtime });
    }
    if (st.isDirectory()) return this.add({ ...base, type: 'directory' });
    if (st.isSymbolicLink()) return this.add({ ...base, type: 'symlink', linkname: await readlink(join(this.root, path)) });
    if (st.isFIFO()) return this.add({ ...base, type: 'fifo' });
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      return this.add({ ...base, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00) });
    }
    if (!st.isFile()) return; // sockets: not part of a layer
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? this.links.get(key) : undefined;
    if (first) return this.add({ ...base, type: 'link', linkname: first });
    if (st.nlink > 1) this.links.set(key, path);
    await this.file(base, join(this.root, path), st.size);
  }

  private add(header: Hdr): Promise<void> {
    // A file entry without a body (whiteouts) needs its empty body given, or the pack waits for it.
    const cb = (resolve: () => void, reject: (e: Error) => void) => (err?: Error | null) => (err ? reject(err) : resolve());
    return new Promise((resolve, reject) => {
      if (header.type === 'file') this.pack.entry({ ...header, size: 0 }, Buffer.alloc(0), cb(resolve, reject));
      else this.pack.entry(header, cb(resolve, reject));
    });
  }

  private async file(header: Hdr, path: string, size: number): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      const sink = this.pack.entry({ ...header, type: 'file', size }, (err) => (err ? reject(err) : resolve()));
      pipeline(createReadStream(path), sink as unknown as NodeJS.WritableStream).catch(reject);
    });
    await done;
  }
}
