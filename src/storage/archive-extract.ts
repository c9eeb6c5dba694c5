import { constants } from 'node:fs';
import { chmod, chown, lchown, link, lutimes, mkdir, open, symlink, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { HullError, invalid, isHullError, notFound } from '../core/errors.js';
import { destSpec, place } from './cp-rules.js';
import { at, errno, notADirectory, O_PATH, type Frame, type IdMap, type RootDir, type RootMount, type Walk } from './root-dir.js';

type Header = Partial<tar.Header> & { name: string };
type Entry = tar.ExtractEvents['entry'][1];

export interface ExtractOptions {
  /** Where it goes, as written: docker cp's rules (cp-rules.ts) decide between into and onto. */
  dest: string;
  /** Set owners from the archive (mapped through `ids`); else they are the caller's. */
  keepOwners: boolean;
  ids?: IdMap;
}

/**
 * Write a tar stream into a tree (root-dir.ts) at `dest`. Every entry is made
 * from a handle on the directory it goes in, never through a path the kernel
 * would walk again: a file is created with O_CREAT|O_EXCL|O_NOFOLLOW (after
 * unlinking what was there, which never follows either), directories with
 * mkdir, symlinks with symlink, and their owners, modes and times set on the
 * new handle (or with lchown/lutimes for a symlink). So a container swapping
 * a directory for a symlink while the copy runs sends entries elsewhere in
 * its own tree at most. An entry naming `..` is refused; a directory is never
 * replaced by a non-directory or the other way round (docker's
 * noOverwriteDirNonDir); a file mounted over the tree (the container's
 * /etc/hosts) gets the bytes written into it. Device nodes and fifos are
 * left out. Directory times are set last, deepest first.
 */
export async function extractTo(root: RootDir, archive: NodeJS.ReadableStream, o: ExtractOptions): Promise<void> {
  const ex = tar.extract();
  const feed = pipeline(archive, ex);
  feed.catch(() => undefined);
  let x: Extraction | undefined;
  try {
    for await (const entry of ex) {
      x ??= await Extraction.begin(root, o, entry.header);
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
    await x?.close();
  }
}

class Extraction {
  private parent?: { key: string; walk: Walk };
  private dirTimes: Array<{ comps: string[]; mtime: Date }> = [];

  private constructor(
    private root: RootDir,
    private start: Walk,
    private into: Frame[],
    private rename: { from: string; to: string } | undefined,
    private o: ExtractOptions,
  ) {}

  static async begin(root: RootDir, o: ExtractOptions, first: Header): Promise<Extraction> {
    const spec = destSpec(o.dest);
    const w = root.walk();
    try {
      const loc = await w.resolve(spec.path, { followLast: true });
      const isDir = !loc.missing && !!loc.stat?.isDirectory();
      const found = { exists: !loc.missing, isDir, dangling: loc.missing && loc.viaLink, name: loc.name };
      const p = place(spec, found, first.type === 'directory');
      // Into the destination: it is the walk's top frame. Into its parent: the frame it sits in.
      const top = first.name.split('/').find((c: string) => c !== '') ?? '.';
      const rename = p.into === 'parent' ? { from: top, to: p.rename } : undefined;
      return new Extraction(root, w, [...w.frames], rename, o);
    } catch (e) {
      await w.close();
      throw e;
    }
  }

  async apply(entry: Entry): Promise<void> {
    const h = entry.header;
    const comps = this.components(h.name);
    if (comps.length === 0) {
      if (h.type !== 'directory') throw invalid(`archive entry "${h.name}" is not a directory but names the destination`);
      return this.dirMeta(this.into[this.into.length - 1], h, comps);
    }
    const w = await this.parentOf(comps);
    const name = comps[comps.length - 1];
    const logical = w.logical(name);
    this.writable(w, logical);
    const mount = this.root.mountAt(logical);
    if (mount) return this.ontoMount(mount, entry, logical);
    switch (h.type) {
      case 'directory':
        return this.dir(w.top, name, logical, h, comps);
      case 'file':
      case 'contiguous-file':
        return this.file(w.top, name, logical, entry);
      case 'symlink':
        return this.symlink(w.top, name, logical, h);
      case 'link':
        return this.hardLink(w.top, name, logical, h);
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
  private async parentOf(comps: string[]): Promise<Walk> {
    const key = comps.slice(0, -1).join('/');
    if (this.parent?.key === key) return this.parent.walk;
    await this.parent?.walk.close();
    this.parent = undefined;
    const walk = this.root.walk(this.into);
    try {
      const loc = await walk.resolve(key, { followLast: true, mkdirs: true });
      if (loc.missing || loc.mount || !loc.stat?.isDirectory() || loc.fh !== walk.top.fh) throw notADirectory(loc.logical);
    } catch (e) {
      await walk.close();
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
    const fh = await open(m.source, O_PATH);
    const isDir = (await fh.stat().finally(() => fh.close())).isDirectory();
    if (isDir && h.type === 'directory') return; // a mounted directory stays as it is
    if (isDir || !isFile) throw invalid(`"${logical}" is mounted into the container (a ${isDir ? 'directory' : 'file'}): only ${isDir ? 'a directory' : 'a file'} can be copied onto it`);
    const out = await open(m.source, constants.O_WRONLY | constants.O_TRUNC);
    try {
      await writeAll(entry, out);
    } finally {
      await out.close();
    }
  }

  private async dir(parent: Frame, name: string, logical: string, h: Header, comps: string[]): Promise<void> {
    let fh = await existing(parent, name);
    if (fh && !(await fh.stat()).isDirectory()) {
      await fh.close();
      throw invalid(`cannot overwrite the non-directory "${logical}" with a directory`);
    }
    if (!fh) {
      await mkdir(at(parent.fh, name), 0o700).catch((e) => (errno(e) === 'EEXIST' ? undefined : Promise.reject(e)));
      fh = await existing(parent, name);
      if (!fh || !(await fh.stat()).isDirectory()) {
        await fh?.close();
        throw invalid(`"${logical}" changed while it was made`);
      }
    }
    try {
      await this.dirMeta({ fh, name, owned: true }, h, comps);
    } finally {
      await fh.close();
    }
  }

  /** Owner and mode now, through the handle; the time once nothing more is written in it. */
  private async dirMeta(f: Frame, h: Header, comps: string[]): Promise<void> {
    if (f.mount) return;
    await this.owner((uid, gid) => chown(at(f.fh), uid, gid), h);
    await chmod(at(f.fh), (h.mode ?? 0o755) & 0o7777);
    if (h.mtime) this.dirTimes.push({ comps, mtime: h.mtime });
  }

  private async file(parent: Frame, name: string, logical: string, entry: Entry): Promise<void> {
    const h = entry.header;
    await this.clear(parent, name, logical);
    const fh = await this.create(parent, name, logical);
    try {
      await writeAll(entry, fh);
      await this.owner((uid, gid) => fh.chown(uid, gid), h);
      await fh.chmod((h.mode ?? 0o644) & 0o7777);
      if (h.mtime) await fh.utimes(h.mtime, h.mtime);
    } finally {
      await fh.close();
    }
  }

  /** O_EXCL|O_NOFOLLOW: a new file of ours, never one a symlink points at. */
  private async create(parent: Frame, name: string, logical: string): Promise<FileHandle> {
    for (let i = 0; ; i++) {
      try {
        return await open(at(parent.fh, name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      } catch (e) {
        if (errno(e) !== 'EEXIST' || i >= 3) throw e;
        await this.clear(parent, name, logical);
      }
    }
  }

  private async symlink(parent: Frame, name: string, logical: string, h: Header): Promise<void> {
    await this.clear(parent, name, logical);
    await symlink(h.linkname ?? '', at(parent.fh, name));
    await this.owner((uid, gid) => lchown(at(parent.fh, name), uid, gid), h);
    if (h.mtime) await lutimes(at(parent.fh, name), h.mtime, h.mtime);
  }

  private async hardLink(parent: Frame, name: string, logical: string, h: Header): Promise<void> {
    const target = this.components(h.linkname ?? '');
    if (!target.length) throw invalid(`archive entry "${h.name}" is a hard link to nothing`);
    const w = this.root.walk(this.into);
    try {
      const loc = await w.resolve(target.join('/'), { followLast: false });
      if (loc.missing || loc.mount || loc.stat?.isDirectory()) throw invalid(`archive entry "${h.name}" links to "${h.linkname}", which is not a file in the copy`);
      await this.clear(parent, name, logical);
      await link(at(loc.dir.fh, loc.name), at(parent.fh, name));
    } finally {
      await w.close();
    }
  }

  /** Unlink a non-directory in the way (unlink never follows); a directory stays and is an error. */
  private async clear(parent: Frame, name: string, logical: string): Promise<void> {
    const fh = await existing(parent, name);
    if (!fh) return;
    const isDir = (await fh.stat().finally(() => fh.close())).isDirectory();
    if (isDir) throw invalid(`cannot overwrite the directory "${logical}" with a non-directory`);
    await unlink(at(parent.fh, name)).catch((e) => (errno(e) === 'ENOENT' ? undefined : Promise.reject(e)));
  }

  private async owner(set: (uid: number, gid: number) => Promise<void>, h: Header): Promise<void> {
    if (this.o.keepOwners) await set(this.hostId(h.uid ?? 0), this.hostId(h.gid ?? 0));
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
      const w = this.root.walk(this.into);
      try {
        const loc = await w.resolve(d.comps.join('/'), { followLast: false }).catch(() => undefined);
        if (loc?.fh && loc.stat?.isDirectory() && !loc.mount) await utimes(at(loc.fh), d.mtime, d.mtime);
      } finally {
        await w.close();
      }
    }
  }

  async close(): Promise<void> {
    await this.parent?.walk.close();
    await this.start.close();
  }
}

/** What is at parent/name now, as an O_PATH handle (not followed); undefined if nothing. */
async function existing(parent: Frame, name: string): Promise<FileHandle | undefined> {
  return open(at(parent.fh, name), O_PATH | constants.O_NOFOLLOW).catch((e) => (errno(e) === 'ENOENT' ? undefined : Promise.reject(e)));
}

async function writeAll(entry: Entry, fh: FileHandle): Promise<void> {
  for await (const chunk of entry) await fh.write(chunk as Buffer);
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
