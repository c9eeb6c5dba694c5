import { chmodSync, chownSync, closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lutimesSync, openSync, symlinkSync, unlinkSync, utimesSync, write } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import * as tar from 'tar-stream';
import { HullError, invalid, isHullError, notFound } from '../core/errors.js';
import { destSpec, place } from './cp-rules.js';
import { at, closeQuietly, errno, mkdirOrExists, notADirectory, O_PATH, openAt, statFd, Yielder, type Frame, type IdMap, type RootDir, type RootMount, type Walk } from './root-dir.js';

type Header = Partial<tar.Header> & { name: string };
type Entry = tar.ExtractEvents['entry'][1];

const writeFd = promisify(write);

export interface ExtractOptions {
  /** Where it goes, as written: docker cp's rules (cp-rules.ts) decide between into and onto. */
  dest: string;
  /** Set owners from the archive (mapped through `ids`); else they are the caller's. */
  keepOwners: boolean;
  ids?: IdMap;
}

/**
 * Write a tar stream into a tree (root-dir.ts) at `dest`. Every entry is made
 * from a descriptor on the directory it goes in, never through a path the
 * kernel would walk again: a file is created with O_CREAT|O_EXCL|O_NOFOLLOW
 * (after unlinking what was there, which never follows either), directories
 * with mkdir, symlinks with symlink, and their owners, modes and times set
 * through the new descriptor (or with lchown/lutimes for a symlink). So a
 * container swapping a directory for a symlink while the copy runs sends
 * entries elsewhere in its own tree at most. An entry naming `..` is
 * refused; a directory is never replaced by a non-directory or the other way
 * round (docker's noOverwriteDirNonDir); a file mounted over the tree (the
 * container's /etc/hosts) gets the bytes written into it. Device nodes and
 * fifos are left out. Directory times are set last, deepest first.
 */
export async function extractTo(root: RootDir, archive: NodeJS.ReadableStream, o: ExtractOptions): Promise<void> {
  const ex = tar.extract();
  const feed = pipeline(archive, ex);
  feed.catch(() => undefined);
  let x: Extraction | undefined;
  try {
    for await (const entry of ex) {
      x ??= Extraction.begin(root, o, entry.header);
      await x.apply(entry);
      for await (const _ of entry) {
        // tar-stream parses the next entry once this one is read to its end
      }
    }
    await feed;
    if (!x) throw invalid('the archive holds no files');
    await x.finish();
  } catch (e) {
    ex.destroy();
    throw asCopyError(e);
  } finally {
    x?.close();
  }
}

class Extraction {
  private parent?: { key: string; walk: Walk };
  private dirTimes: Array<{ comps: string[]; mtime: Date }> = [];
  private yielder = new Yielder();

  private constructor(
    private root: RootDir,
    private start: Walk,
    private into: Frame[],
    private rename: { from: string; to: string } | undefined,
    private o: ExtractOptions,
  ) {}

  /** Where the archive goes, from its first entry: into the destination directory, or into its parent under a new name. */
  static begin(root: RootDir, o: ExtractOptions, first: Header): Extraction {
    const spec = destSpec(o.dest);
    const w = root.walk();
    try {
      const loc = w.resolve(spec.path, { followLast: true });
      const isDir = !loc.missing && !!loc.stat?.isDirectory();
      const p = place(spec, { exists: !loc.missing, isDir, dangling: loc.missing && loc.viaLink, name: loc.name }, first.type === 'directory');
      // Into the destination: it is the walk's top frame. Into its parent: the frame it sits in, also the top.
      const top = first.name.split('/').find((c: string) => c !== '') ?? '.';
      const rename = p.into === 'parent' ? { from: top, to: p.rename } : undefined;
      return new Extraction(root, w, [...w.frames], rename, o);
    } catch (e) {
      w.close();
      throw e;
    }
  }

  async apply(entry: Entry): Promise<void> {
    await this.yielder.turn();
    const h = entry.header;
    const comps = this.components(h.name);
    if (comps.length === 0) {
      if (h.type !== 'directory') throw invalid(`archive entry "${h.name}" is not a directory but names the destination`);
      return this.dirMeta(this.into[this.into.length - 1], h, comps);
    }
    const w = this.parentOf(comps);
    const name = comps[comps.length - 1];
    const logical = w.logical(name);
    this.writable(w, logical);
    const mount = this.root.mountAt(logical);
    if (mount) return this.ontoMount(mount, entry, logical);
    const dir = w.top.fd;
    switch (h.type) {
      case 'directory':
        return this.dir(dir, name, logical, h, comps);
      case 'file':
      case 'contiguous-file':
        return this.file(dir, name, logical, entry);
      case 'symlink':
        return this.symlink(dir, name, logical, h);
      case 'link':
        return this.hardLink(dir, name, logical, h);
      default:
        return; // devices and fifos are not made (Node cannot mknod)
    }
  }

  /** The entry's path under the destination: the top renamed, `.` dropped, `..` refused. */
  private components(name: string): string[] {
    const parts = name.split('/').filter((c) => c !== '');
    if (this.rename) {
      if (parts[0] !== this.rename.from) throw invalid(`archive entry "${name}" is outside its first entry "${this.rename.from}": one top-level entry is expected`);
      parts[0] = this.rename.to;
    }
    const out = parts.filter((c) => c !== '.');
    if (out.includes('..')) throw invalid(`archive entry "${name}" leaves the destination`);
    return out;
  }

  /** A walk standing in the entry's directory (made if missing); kept for the next entry in the same one. */
  private parentOf(comps: string[]): Walk {
    const key = comps.slice(0, -1).join('/');
    if (this.parent?.key === key) return this.parent.walk;
    this.parent?.walk.close();
    this.parent = undefined;
    const walk = this.root.walk(this.into);
    try {
      const loc = walk.resolve(key, { followLast: true, mkdirs: true, mkdirOwner: this.o.keepOwners && this.o.ids ? { uid: this.o.ids.hostId, gid: this.o.ids.hostId } : undefined });
      // A mounted directory (a volume) is a directory like any other; a mounted file has no descriptor here.
      if (loc.missing || !loc.stat?.isDirectory() || loc.fd !== walk.top.fd) throw notADirectory(loc.logical);
    } catch (e) {
      walk.close();
      throw e;
    }
    this.parent = { key, walk };
    return walk;
  }

  /** Under a read-only mount nothing is written. */
  private writable(w: Walk, logical: string): void {
    const m = [...w.frames].reverse().find((f) => f.mount)?.mount ?? this.root.mountAt(logical);
    if (m?.readonly) throw invalid(`"${logical}" is on a read-only mount`);
  }

  private async ontoMount(m: RootMount, entry: Entry, logical: string): Promise<void> {
    const h = entry.header;
    const isFile = h.type === 'file' || h.type === 'contiguous-file';
    const probe = openSync(m.source, O_PATH);
    const isDir = statFd(probe).isDirectory();
    closeSync(probe);
    if (isDir && h.type === 'directory') return; // a mounted directory stays as it is
    if (isDir || !isFile) throw invalid(`"${logical}" is mounted into the container (a ${isDir ? 'directory' : 'file'}): only ${isDir ? 'a directory' : 'a file'} can be copied onto it`);
    const fd = openSync(m.source, constants.O_WRONLY | constants.O_TRUNC);
    try {
      await writeAll(entry, fd);
    } finally {
      closeQuietly(fd);
    }
  }

  private async dir(parent: number, name: string, logical: string, h: Header, comps: string[]): Promise<void> {
    let fd = openAt(parent, name);
    if (fd === undefined) {
      mkdirOrExists(parent, name, 0o700);
      fd = openAt(parent, name);
    }
    try {
      if (fd === undefined || !statFd(fd).isDirectory()) throw invalid(`cannot overwrite the non-directory "${logical}" with a directory`);
      this.dirMeta({ fd, name, owned: true }, h, comps);
    } finally {
      closeQuietly(fd);
    }
  }

  /** Owner and mode now, through the descriptor; the time once nothing more is written in it. */
  private dirMeta(f: Frame, h: Header, comps: string[]): void {
    if (f.mount) return;
    this.owner((uid, gid) => chownSync(at(f.fd), uid, gid), h);
    chmodSync(at(f.fd), (h.mode ?? 0o755) & 0o7777);
    if (h.mtime) this.dirTimes.push({ comps, mtime: h.mtime });
  }

  private async file(parent: number, name: string, logical: string, entry: Entry): Promise<void> {
    const h = entry.header;
    const fd = this.create(parent, name, logical);
    try {
      await writeAll(entry, fd);
      this.owner((uid, gid) => fchownSync(fd, uid, gid), h);
      fchmodSync(fd, (h.mode ?? 0o644) & 0o7777); // after chown, which clears setuid
      if (h.mtime) futimesSync(fd, h.mtime, h.mtime);
    } finally {
      closeQuietly(fd);
    }
  }

  /** O_EXCL|O_NOFOLLOW: a new file of ours, never one a symlink points at. What was there is unlinked first. */
  private create(parent: number, name: string, logical: string): number {
    for (let i = 0; ; i++) {
      try {
        return openSync(at(parent, name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      } catch (e) {
        if (errno(e) !== 'EEXIST' || i >= 3) throw e;
        this.clear(parent, name, logical);
      }
    }
  }

  private symlink(parent: number, name: string, logical: string, h: Header): void {
    this.clear(parent, name, logical);
    symlinkSync(h.linkname ?? '', at(parent, name));
    this.owner((uid, gid) => lchownSync(at(parent, name), uid, gid), h);
    if (h.mtime) lutimesSync(at(parent, name), h.mtime, h.mtime);
  }

  private hardLink(parent: number, name: string, logical: string, h: Header): void {
    const target = this.components(h.linkname ?? '');
    if (!target.length) throw invalid(`archive entry "${h.name}" is a hard link to nothing`);
    const w = this.root.walk(this.into);
    try {
      const loc = w.resolve(target.join('/'), { followLast: false });
      if (loc.missing || loc.mount || loc.stat?.isDirectory()) throw invalid(`archive entry "${h.name}" links to "${h.linkname}", which is not a file in the copy`);
      this.clear(parent, name, logical);
      linkSync(at(loc.dir.fd, loc.name), at(parent, name));
    } finally {
      w.close();
    }
  }

  /** Unlink a non-directory in the way (unlink never follows); a directory stays and is an error. */
  private clear(parent: number, name: string, logical: string): void {
    const fd = openAt(parent, name);
    if (fd === undefined) return;
    const isDir = statFd(fd).isDirectory();
    closeSync(fd);
    if (isDir) throw invalid(`cannot overwrite the directory "${logical}" with a non-directory`);
    try {
      unlinkSync(at(parent, name));
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw e;
    }
  }

  private owner(set: (uid: number, gid: number) => void, h: Header): void {
    if (this.o.keepOwners) set(this.hostId(h.uid ?? 0), this.hostId(h.gid ?? 0));
  }

  /** An id as the container sees it, on the host: through its user namespace; one it cannot map is its root. */
  private hostId(id: number): number {
    const m = this.o.ids;
    if (!m) return id;
    return m.hostId + (id < m.size ? id : 0);
  }

  /** Directory times, deepest first, each on what is a directory there now. */
  async finish(): Promise<void> {
    const byDepth = [...this.dirTimes].sort((a, b) => b.comps.length - a.comps.length);
    for (const d of byDepth) {
      await this.yielder.turn();
      const w = this.root.walk(this.into);
      try {
        const loc = w.resolve(d.comps.join('/'), { followLast: false });
        if (loc.fd !== undefined && loc.stat?.isDirectory() && !loc.mount) utimesSync(at(loc.fd), d.mtime, d.mtime);
      } catch {
        // gone or changed since: nothing to set
      } finally {
        w.close();
      }
    }
  }

  close(): void {
    this.parent?.walk.close();
    this.start.close();
  }
}

async function writeAll(entry: Entry, fd: number): Promise<void> {
  for await (const chunk of entry) {
    const b = chunk as Buffer;
    for (let off = 0; off < b.length; ) off += (await writeFd(fd, b, off, b.length - off)).bytesWritten;
  }
}

/** fs errors as messages a user can act on; HullErrors as they are. */
export function asCopyError(e: unknown): HullError {
  if (isHullError(e)) return e;
  const code = errno(e);
  const msg = (e as Error).message?.replace(/'\/proc\/self\/fd\/\d+\/?/g, "'") ?? String(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new HullError('resource', `no space left for the copy: ${msg}`);
  if (code === 'ENOENT') return notFound(msg);
  return invalid(`cannot copy: ${msg}`);
}
