import { constants, type Stats } from 'node:fs';
import { open, opendir, readlink, type FileHandle } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { HullError } from '../core/errors.js';
import { at, errno, O_PATH, type IdMap, type Located, type RootDir, type RootMount } from './root-dir.js';

type Header = Partial<tar.Header> & { name: string };

/** Deeper than this, a tree is refused (each level holds a handle open while its entries are packed). */
const MAX_DEPTH = 512;
const CHUNK = 256 * 1024;

export interface Packed {
  /** The tar stream; destroying it stops the walk. */
  stream: Readable;
  /** Settles once the walk has stopped and closed every handle it opened. */
  done: Promise<void>;
}

/**
 * Pack what `loc` names (a file, a symlink as itself, a directory with all
 * below it) as a tar whose top entry is `top`. The walk goes through handles
 * (root-dir.ts): each entry is opened with O_PATH|O_NOFOLLOW inside its
 * directory and only read once its handle says it is a regular file, so a
 * container changing its files meanwhile changes what is packed, never which
 * tree it comes from, and a device node or fifo is never opened. Files
 * mounted over the tree (the container's /etc/hosts) are packed from their
 * source. Owners are given as the container sees them (`ids`). A file that
 * vanishes during the walk is left out; a file that grows or shrinks is cut
 * or padded to the size it had when its header was written.
 */
export function packTree(root: RootDir, loc: Located, top: string, ids?: IdMap): Packed {
  const pack = tar.pack();
  const out = new PassThrough();
  pipeline(pack as unknown as Readable, out).catch((e: unknown) => out.destroy(e as Error));
  const w = new PackWalk(root, pack, ids);
  const done = w
    .top(loc, top)
    .then(() => pack.finalize())
    .catch((e: unknown) => {
      pack.destroy(e as Error);
      out.destroy(e as Error);
    });
  return { stream: out, done };
}

class PackWalk {
  private links = new Map<string, string>();

  constructor(
    private root: RootDir,
    private pack: tar.Pack,
    private ids?: IdMap,
  ) {}

  async top(loc: Located, name: string): Promise<void> {
    if (loc.mount) return this.mounted(loc.mount, name, loc.logical, 0);
    if (!loc.fh || !loc.stat) throw new HullError('not_found', `"${loc.logical}" not found`);
    const linkTarget = loc.stat.isSymbolicLink() ? await readlink(at(loc.dir.fh, loc.name)).catch(() => undefined) : undefined;
    await this.entry(loc.fh, loc.stat, name, loc.logical, 0, linkTarget);
  }

  /** One entry: `fh` is an O_PATH handle on it; `linkTarget` is read by the caller for a symlink. */
  private async entry(fh: FileHandle, st: Stats, name: string, logical: string, depth: number, linkTarget?: string): Promise<void> {
    const base: Header = { name, mode: st.mode & 0o7777, uid: this.containerId(st.uid), gid: this.containerId(st.gid), mtime: st.mtime };
    if (st.isDirectory()) return this.dir(fh, base, logical, depth);
    if (st.isSymbolicLink()) return linkTarget === undefined ? undefined : this.add({ ...base, type: 'symlink', linkname: linkTarget });
    if (st.isFIFO()) return this.add({ ...base, type: 'fifo' });
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      const dev = { devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00) };
      return this.add({ ...base, ...dev, type: st.isCharacterDevice() ? 'character-device' : 'block-device' });
    }
    if (!st.isFile()) return; // sockets have no place in a tar
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? this.links.get(key) : undefined;
    if (first !== undefined) return this.add({ ...base, type: 'link', linkname: first });
    if (st.nlink > 1) this.links.set(key, name);
    // Reopening the handle reads the very file it names, whatever is at its path now.
    const file = await open(at(fh), constants.O_RDONLY);
    try {
      await this.file({ ...base, type: 'file', size: st.size }, file);
    } finally {
      await file.close();
    }
  }

  private async dir(fh: FileHandle, header: Header, logical: string, depth: number): Promise<void> {
    if (depth >= MAX_DEPTH) throw new HullError('invalid', `"${logical}" is more than ${MAX_DEPTH} directories deep`);
    await this.add({ ...header, type: 'directory' });
    const names: string[] = [];
    for await (const e of await opendir(at(fh))) names.push(e.name);
    for (const n of names.sort()) await this.child(fh, n, `${header.name}/${n}`, `${logical === '/' ? '' : logical}/${n}`, depth + 1);
  }

  private async child(dir: FileHandle, n: string, name: string, logical: string, depth: number): Promise<void> {
    const mount = this.root.mountAt(logical);
    if (mount) return this.mounted(mount, name, logical, depth);
    const fh = await open(at(dir, n), O_PATH | constants.O_NOFOLLOW).catch((e) => (errno(e) === 'ENOENT' ? undefined : Promise.reject(e)));
    if (!fh) return; // gone since the listing
    try {
      const st = await fh.stat();
      const linkTarget = st.isSymbolicLink() ? await readlink(at(dir, n)).catch(() => undefined) : undefined;
      await this.entry(fh, st, name, logical, depth, linkTarget);
    } finally {
      await fh.close();
    }
  }

  /** A host file or directory mounted over the tree: packed from its source. */
  private async mounted(m: RootMount, name: string, logical: string, depth: number): Promise<void> {
    const fh = await open(m.source, O_PATH);
    try {
      await this.entry(fh, await fh.stat(), name, logical, depth);
    } finally {
      await fh.close();
    }
  }

  private containerId(id: number): number {
    if (!this.ids) return id;
    const c = id - this.ids.hostId;
    return c >= 0 && c < this.ids.size ? c : 65534; // the kernel's overflow id, as the container sees it
  }

  private add(header: Header): Promise<void> {
    return new Promise((resolve, reject) => this.pack.entry(header, (e) => (e ? reject(e) : resolve())));
  }

  /** Exactly header.size bytes: cut if the file grew, zeros if it shrank since it was looked at. */
  private async file(header: Header, file: FileHandle): Promise<void> {
    const size = header.size ?? 0;
    async function* bytes() {
      let left = size;
      while (left > 0) {
        const buf = Buffer.alloc(Math.min(CHUNK, left));
        const { bytesRead } = await file.read(buf, 0, buf.length, size - left);
        if (bytesRead === 0) {
          yield buf; // shrank: the rest is zeros
          left -= buf.length;
          continue;
        }
        left -= bytesRead;
        yield buf.subarray(0, bytesRead);
      }
    }
    await pipeline(Readable.from(bytes(), { objectMode: false }), this.pack.entry(header) as unknown as NodeJS.WritableStream);
  }
}
