import { constants, openSync, opendirSync, read, type Stats } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import * as tar from 'tar-stream';
import { HullError } from '../core/errors.js';
import { at, closeQuietly, O_PATH, openAt, readlinkAt, statFd, Yielder, type IdMap, type Located, type RootDir, type RootMount } from './root-dir.js';

type Header = Partial<tar.Header> & { name: string };

const readFd = promisify(read);
/** Deeper than this, a tree is refused (each level holds a descriptor open while its entries are packed). */
const MAX_DEPTH = 512;
const CHUNK = 256 * 1024;

export interface Packed {
  /** The tar stream; destroying it stops the walk. */
  stream: Readable;
  /** Settles once the walk has stopped and closed every descriptor it opened. */
  done: Promise<void>;
}

/**
 * Pack what `loc` names (a file, a symlink as itself, a directory with all
 * below it) as a tar whose top entry is `top`. The walk goes through
 * descriptors (root-dir.ts): each entry is opened with O_PATH|O_NOFOLLOW
 * inside its directory and read only once its descriptor says it is a
 * regular file, so a container changing its files meanwhile changes what is
 * packed, never which tree it comes from, and a device node or fifo is never
 * opened. Files mounted over the tree (the container's /etc/hosts) are packed
 * from their source. Owners are given as the container sees them (`ids`). A
 * file that vanishes during the walk is left out; one that grows or shrinks
 * is cut or padded to the size it had when its header was written.
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
  private yielder = new Yielder();

  constructor(
    private root: RootDir,
    private pack: tar.Pack,
    private ids?: IdMap,
  ) {}

  async top(loc: Located, name: string): Promise<void> {
    if (loc.mount) return this.mounted(loc.mount, name, loc.logical, 0);
    if (loc.fd === undefined || !loc.stat) throw new HullError('not_found', `"${loc.logical}" not found`);
    const linkTarget = loc.stat.isSymbolicLink() ? readlinkAt(loc.dir.fd, loc.name) : undefined;
    await this.entry(loc.fd, loc.stat, name, loc.logical, 0, linkTarget);
  }

  /** One entry: `fd` is an O_PATH descriptor on it; `linkTarget` is read by the caller for a symlink. */
  private async entry(fd: number, st: Stats, name: string, logical: string, depth: number, linkTarget?: string): Promise<void> {
    await this.yielder.turn();
    const base: Header = { name, mode: st.mode & 0o7777, uid: this.containerId(st.uid), gid: this.containerId(st.gid), mtime: st.mtime };
    if (st.isDirectory()) return this.dir(fd, base, logical, depth);
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
    // Reopening the descriptor reads the very file it names, whatever is at its path now.
    const file = openSync(at(fd), constants.O_RDONLY);
    try {
      await this.file({ ...base, type: 'file', size: st.size }, file);
    } finally {
      closeQuietly(file);
    }
  }

  private async dir(fd: number, header: Header, logical: string, depth: number): Promise<void> {
    if (depth >= MAX_DEPTH) throw new HullError('invalid', `"${logical}" is more than ${MAX_DEPTH} directories deep`);
    await this.add({ ...header, name: `${header.name}/`, type: 'directory' }); // as tar and docker name directories
    for (const n of await this.list(fd)) await this.child(fd, n, `${header.name}/${n}`, `${logical === '/' ? '' : logical}/${n}`, depth + 1);
  }

  private async list(fd: number): Promise<string[]> {
    const names: string[] = [];
    const d = opendirSync(at(fd), { bufferSize: 128 });
    try {
      for (let e = d.readSync(); e; e = d.readSync()) {
        names.push(e.name);
        if (names.length % 1024 === 0) await this.yielder.turn();
      }
    } finally {
      d.closeSync();
    }
    return names.sort();
  }

  private async child(dir: number, n: string, name: string, logical: string, depth: number): Promise<void> {
    const mount = this.root.mountAt(logical);
    if (mount) return this.mounted(mount, name, logical, depth);
    const fd = openAt(dir, n);
    if (fd === undefined) return; // gone since the listing
    try {
      const st = statFd(fd);
      await this.entry(fd, st, name, logical, depth, st.isSymbolicLink() ? readlinkAt(dir, n) : undefined);
    } finally {
      closeQuietly(fd);
    }
  }

  /** A host file or directory mounted over the tree: packed from its source. */
  private async mounted(m: RootMount, name: string, logical: string, depth: number): Promise<void> {
    const fd = openSync(m.source, O_PATH);
    try {
      await this.entry(fd, statFd(fd), name, logical, depth);
    } finally {
      closeQuietly(fd);
    }
  }

  private containerId(id: number): number {
    if (!this.ids) return id;
    const c = id - this.ids.hostId;
    return c >= 0 && c < this.ids.size ? c : 65534; // the kernel's overflow id, as the container sees it
  }

  private add(header: Header, data?: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (e?: Error | null) => (e ? reject(e) : resolve());
      if (data) this.pack.entry(header, data, done);
      else this.pack.entry(header, done);
    });
  }

  /** Exactly header.size bytes: cut if the file grew, zeros if it shrank since it was looked at. */
  private async file(header: Header, fd: number): Promise<void> {
    const size = header.size ?? 0;
    if (size <= CHUNK) return this.add(header, await readChunk(fd, 0, size));
    async function* chunks() {
      for (let pos = 0; pos < size; pos += CHUNK) yield readChunk(fd, pos, Math.min(CHUNK, size - pos));
    }
    await pipeline(Readable.from(chunks(), { objectMode: false }), this.pack.entry(header) as unknown as NodeJS.WritableStream);
  }
}

/** `length` bytes from `pos`; zeros past the end of a file that shrank. */
async function readChunk(fd: number, pos: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  for (let got = 0; got < length; ) {
    const { bytesRead } = await readFd(fd, buf, got, length - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf;
}
