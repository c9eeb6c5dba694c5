import { closeSync, constants, fstatSync, lchownSync, mkdirSync, openSync, readlinkSync, type Stats } from 'node:fs';
import { HullError, invalid, notFound } from '../core/errors.js';

/**
 * A directory tree seen from inside, walked so that nothing in it can send an
 * operation elsewhere: a container's root filesystem (with the files and
 * directories bind-mounted over it) while the container runs, or the host's
 * own `/` for the CLI's side of `hull cp`.
 *
 * Every step is taken from an open directory descriptor, never from a path
 * the kernel would walk again: a component is opened with O_PATH|O_NOFOLLOW
 * through `/proc/self/fd/N/NAME` (N the descriptor of the directory it is
 * in), so swapping a directory for a symlink between two steps changes what
 * the next step finds inside the tree, never where the tree is. Symlinks are
 * followed by this code, as the container would see them: an absolute target
 * restarts at the root, `..` stops at the root (Go's securejoin, with
 * descriptors instead of strings).
 *
 *   const root = RootDir.open('/var/lib/hull/containers/ID/rootfs/merged', mounts);
 *   const w = root.walk();
 *   const at = w.resolve('/etc/hosts', { followLast: false });  // at.mount: the mounted file
 *   ...read or write through at.dir / at.name...
 *   w.close(); root.close();
 *
 * Metadata calls are synchronous: each is one short system call on a local
 * filesystem, and a copy of many small files would otherwise spend its time
 * waiting for the thread pool. File contents move asynchronously.
 */

/** A host file or directory bind-mounted over a path of the tree (the container's /etc/hosts). */
export interface RootMount {
  destination: string;
  source: string;
  readonly: boolean;
}

/** A user namespace: container ids 0..size-1 are host ids hostId..hostId+size-1. */
export interface IdMap {
  hostId: number;
  size: number;
}

/** One directory on the way down: an O_PATH descriptor, its name, and the mount it is the root of. */
export interface Frame {
  fd: number;
  name: string;
  mount?: RootMount;
  owned: boolean;
}

/** What a path names: the directory holding it and its name there, and what is there now. */
export interface Located {
  dir: Frame;
  /** '' for the root itself. */
  name: string;
  /** The path as the tree sees it, symlinks resolved ('/' for the root). */
  logical: string;
  /** Nothing there; `dir` is the directory it would be made in. */
  missing: boolean;
  /** A file mounted over this path: reads and writes go to `mount.source`. */
  mount?: RootMount;
  /** What is there (not followed); undefined when missing. */
  stat?: Stats;
  /** An O_PATH descriptor on it (the walk's); undefined when missing or a mounted file. */
  fd?: number;
  /** Reached by following a symlink at the last component (a dangling one when missing). */
  viaLink: boolean;
}

export const O_PATH = 0o10000000; // Linux, every architecture Node runs on
const MAX_TURNS = 255;
/** Directories a walk may stand in at once (it holds a descriptor on each, for `..`). */
const MAX_FRAMES = 1024;

/** The path through a directory descriptor: the kernel resolves only NAME, inside that directory. */
export const at = (fd: number, name = ''): string => (name ? `/proc/self/fd/${fd}/${name}` : `/proc/self/fd/${fd}`);

export const split = (p: string): string[] => p.split('/').filter((x) => x !== '' && x !== '.');

export const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException)?.code;

/** What is at dir/name now, as an O_PATH descriptor (not followed); undefined if nothing. */
export function openAt(dir: number, name: string): number | undefined {
  try {
    return openSync(at(dir, name), O_PATH | constants.O_NOFOLLOW);
  } catch (e) {
    if (errno(e) === 'ENOENT') return undefined;
    throw e;
  }
}

export function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    // already gone
  }
}

export class RootDir {
  private mounts = new Map<string, RootMount>();

  private constructor(
    readonly path: string,
    readonly rootFd: number,
  ) {}

  /** Open the tree at `path` (trusted: the rootfs Hull mounted, or `/`); `mounts` resolve inside it as the runtime did. */
  static open(path: string, mounts: RootMount[] = []): RootDir {
    const r = new RootDir(path, openSync(path, O_PATH | constants.O_DIRECTORY));
    for (const m of mounts) {
      const w = r.walk();
      try {
        let logical = `/${split(m.destination).join('/')}`;
        try {
          logical = w.resolve(m.destination, { followLast: true }).logical;
        } catch {
          // a destination the image lacks: it stays as written
        }
        r.mounts.set(logical, m);
      } finally {
        w.close();
      }
    }
    return r;
  }

  mountAt(logical: string): RootMount | undefined {
    return this.mounts.size ? this.mounts.get(logical) : undefined;
  }

  walk(base?: Frame[]): Walk {
    return new Walk(this, base ?? [{ fd: this.rootFd, name: '', owned: false }]);
  }

  close(): void {
    closeQuietly(this.rootFd);
  }
}

export interface ResolveOptions {
  /** Follow a symlink at the last component (docker cp: no for a source, yes for a destination). */
  followLast: boolean;
  /** Make missing directories on the way, the last one too (0755), as tar does for an entry's parents. */
  mkdirs?: boolean;
  /** Who owns the directories made (a --userns container's root); else the caller. */
  mkdirOwner?: { uid: number; gid: number };
}

/** A walk from the root (or from frames another walk holds); it owns the descriptors it opens. */
export class Walk {
  readonly frames: Frame[];
  private extra: number[] = [];

  constructor(
    readonly root: RootDir,
    base: Frame[],
  ) {
    this.frames = base.map((f) => ({ ...f, owned: false }));
  }

  get top(): Frame {
    return this.frames[this.frames.length - 1];
  }

  logical(name?: string): string {
    const names = this.frames.slice(1).map((f) => f.name);
    if (name) names.push(name);
    return `/${names.join('/')}`;
  }

  /** Resolve `path` from where the walk stands (an absolute path or symlink target restarts at the root). */
  resolve(path: string, o: ResolveOptions): Located {
    if (path.startsWith('/')) this.toRoot();
    const todo = split(path);
    let turns = 0; // symlinks followed, and looks again after a change under us
    let viaLink = false;
    while (todo.length) {
      if (turns > MAX_TURNS) throw invalid(`too many levels of symbolic links in "${path}"`);
      const part = todo.shift()!;
      const last = todo.length === 0;
      if (part === '..') {
        if (this.frames.length > 1) this.pop();
        continue;
      }
      const mount = this.root.mountAt(this.logical(part));
      if (mount) {
        const found = this.enterMount(mount, part, last);
        if (found) return { ...found, viaLink };
        continue;
      }
      const fd = openAt(this.top.fd, part);
      if (fd === undefined) {
        if (last && !o.mkdirs) return { dir: this.top, name: part, logical: this.logical(part), missing: true, viaLink };
        if (!o.mkdirs) throw notFound(`"${this.logical(part)}"`);
        if (mkdirOrExists(this.top.fd, part, 0o755) && o.mkdirOwner) lchownSync(at(this.top.fd, part), o.mkdirOwner.uid, o.mkdirOwner.gid);
        todo.unshift(part);
        turns++;
        continue;
      }
      const st = statFd(fd);
      if (st.isDirectory()) {
        this.frames.push({ fd, name: part, owned: true });
        if (this.frames.length > MAX_FRAMES) throw invalid(`"${path}" goes more than ${MAX_FRAMES} directories deep`);
        continue;
      }
      if (st.isSymbolicLink() && (!last || o.followLast)) {
        closeSync(fd);
        turns++;
        const target = readlinkAt(this.top.fd, part);
        if (target === undefined) todo.unshift(part); // changed under us: look again
        else {
          if (last) viaLink = true;
          if (target.startsWith('/')) this.toRoot();
          todo.unshift(...split(target));
        }
        continue;
      }
      if (!last) {
        closeSync(fd);
        throw notADirectory(this.logical(part));
      }
      this.extra.push(fd);
      return { dir: this.top, name: part, logical: this.logical(part), missing: false, stat: st, fd, viaLink };
    }
    // The path ends at a directory (or the root): it is the top frame.
    const self = this.top;
    const dir = this.frames.length > 1 ? this.frames[this.frames.length - 2] : self;
    return { dir, name: self.name, logical: this.logical(), missing: false, stat: statFd(self.fd), fd: self.fd, mount: self.mount, viaLink };
  }

  /** A mounted directory becomes the next frame; a mounted file is the answer (it must be last). */
  private enterMount(m: RootMount, part: string, last: boolean): Omit<Located, 'viaLink'> | undefined {
    const fd = openSync(m.source, O_PATH);
    const st = statFd(fd);
    if (st.isDirectory()) {
      this.frames.push({ fd, name: part, mount: m, owned: true });
      return undefined;
    }
    closeSync(fd);
    if (!last) throw notADirectory(this.logical(part));
    return { dir: this.top, name: part, logical: this.logical(part), missing: false, mount: m, stat: st };
  }

  private pop(): void {
    const f = this.frames.pop()!;
    if (f.owned) closeQuietly(f.fd);
  }

  private toRoot(): void {
    while (this.frames.length > 1) this.pop();
  }

  close(): void {
    for (const f of this.frames.splice(1)) if (f.owned) closeQuietly(f.fd);
    for (const fd of this.extra.splice(0)) closeQuietly(fd);
  }
}

export const statFd = (fd: number): Stats => fstatSync(fd);

/** A symlink's target, read through its directory; undefined if it is no longer a symlink. */
export function readlinkAt(dir: number, name: string): string | undefined {
  try {
    return readlinkSync(at(dir, name));
  } catch {
    return undefined;
  }
}

/** mkdir inside `dir`; true when this call made it. */
export function mkdirOrExists(dir: number, name: string, mode: number): boolean {
  try {
    mkdirSync(at(dir, name), mode);
    return true;
  } catch (e) {
    if (errno(e) !== 'EEXIST') throw e;
    return false;
  }
}

/** For a walk of many synchronous calls: lets the rest of the daemon run every few milliseconds. */
export class Yielder {
  private last = Date.now();
  async turn(): Promise<void> {
    if (Date.now() - this.last < 5) return;
    await new Promise((r) => setImmediate(r));
    this.last = Date.now();
  }
}

export const notADirectory = (logical: string) => new HullError('invalid', `"${logical}" is not a directory`);
