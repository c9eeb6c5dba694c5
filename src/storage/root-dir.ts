import { constants, type Stats } from 'node:fs';
import { mkdir, open, readlink, type FileHandle } from 'node:fs/promises';
import { HullError, invalid, notFound } from '../core/errors.js';

/**
 * A directory tree seen from inside, walked so that nothing in it can send an
 * operation elsewhere: a container's root filesystem (with the files and
 * directories bind-mounted over it) while the container runs, or the host's
 * own `/` for the CLI's side of `hull cp`.
 *
 * Every step is taken from an open directory handle, never from a path the
 * kernel would walk again: a component is opened with O_PATH|O_NOFOLLOW
 * through `/proc/self/fd/N/NAME` (N the handle of the directory it is in),
 * so swapping a directory for a symlink between two steps changes what the
 * next step finds inside the tree, never where the tree is. Symlinks are
 * followed by this code, as the container would see them: an absolute
 * target restarts at the root, `..` stops at the root (Go's securejoin,
 * with handles instead of strings).
 *
 *   const root = await RootDir.open('/var/lib/hull/containers/ID/rootfs/merged', mounts);
 *   const w = root.walk();
 *   const at = await w.resolve('/etc/hosts', { followLast: false });  // at.mount: the mounted file
 *   ...read or write through at.dir / at.name...
 *   await w.close(); await root.close();
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

/** One directory on the way down: an O_PATH handle, its name, and the mount it is the root of. */
export interface Frame {
  fh: FileHandle;
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
  /** An O_PATH handle on it (owned by the walk); undefined when missing or a mounted file. */
  fh?: FileHandle;
  /** Reached by following a symlink at the last component (a dangling one when missing). */
  viaLink: boolean;
}

export const O_PATH = 0o10000000; // Linux, every architecture Node runs on
const MAX_STEPS = 255;

/** The path through a directory handle: the kernel resolves only NAME, inside that directory. */
export const at = (fh: FileHandle, name = ''): string => (name ? `/proc/self/fd/${fh.fd}/${name}` : `/proc/self/fd/${fh.fd}`);

export const split = (p: string): string[] => p.split('/').filter((x) => x !== '' && x !== '.');

export const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException)?.code;

export class RootDir {
  private mounts = new Map<string, RootMount>();

  private constructor(
    readonly path: string,
    readonly rootFh: FileHandle,
  ) {}

  /** Open the tree at `path` (trusted: the rootfs Hull mounted, or `/`); `mounts` resolve inside it as the runtime did. */
  static async open(path: string, mounts: RootMount[] = []): Promise<RootDir> {
    const r = new RootDir(path, await open(path, O_PATH | constants.O_DIRECTORY));
    for (const m of mounts) {
      const w = r.walk();
      try {
        const l = await w.resolve(m.destination, { followLast: true }).catch(() => undefined);
        r.mounts.set(l?.logical ?? `/${split(m.destination).join('/')}`, m);
      } finally {
        await w.close();
      }
    }
    return r;
  }

  mountAt(logical: string): RootMount | undefined {
    return this.mounts.get(logical);
  }

  walk(base?: Frame[]): Walk {
    return new Walk(this, base ?? [{ fh: this.rootFh, name: '', owned: false }]);
  }

  async close(): Promise<void> {
    await this.rootFh.close();
  }
}

export interface ResolveOptions {
  /** Follow a symlink at the last component (docker cp: no for a source, yes for a destination). */
  followLast: boolean;
  /** Make missing directories on the way, the last one too (0755), as tar does for an entry's parents. */
  mkdirs?: boolean;
}

/** A walk from the root (or from frames another walk holds); it owns the handles it opens. */
export class Walk {
  readonly frames: Frame[];

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
  async resolve(path: string, o: ResolveOptions): Promise<Located> {
    if (path.startsWith('/')) await this.toRoot();
    const todo = split(path);
    let turns = 0; // symlinks followed, and looks again after a change under us
    let viaLink = false;
    while (todo.length) {
      if (turns > MAX_STEPS) throw invalid(`too many levels of symbolic links in "${path}"`);
      const part = todo.shift()!;
      const last = todo.length === 0;
      if (part === '..') {
        if (this.frames.length > 1) await this.pop();
        continue;
      }
      const mount = this.root.mountAt(this.logical(part));
      if (mount) {
        const found = await this.enterMount(mount, part, last);
        if (found) return { ...found, viaLink };
        continue;
      }
      const fh = await open(at(this.top.fh, part), O_PATH | constants.O_NOFOLLOW).catch((e) => {
        if (errno(e) === 'ENOENT') return undefined;
        throw e;
      });
      if (!fh) {
        if (last && !o.mkdirs) return { dir: this.top, name: part, logical: this.logical(part), missing: true, viaLink };
        if (!o.mkdirs) throw notFound(`"${this.logical(part)}"`);
        await mkdir(at(this.top.fh, part), 0o755).catch((e) => (errno(e) === 'EEXIST' ? undefined : Promise.reject(e)));
        todo.unshift(part);
        turns++;
        continue;
      }
      const st = await fh.stat();
      if (st.isDirectory()) {
        this.frames.push({ fh, name: part, owned: true });
        continue;
      }
      if (st.isSymbolicLink() && (!last || o.followLast)) {
        await fh.close();
        turns++;
        const target = await readlink(at(this.top.fh, part)).catch(() => undefined);
        if (target === undefined) todo.unshift(part); // changed under us: look again
        else {
          if (last) viaLink = true;
          if (target.startsWith('/')) await this.toRoot();
          todo.unshift(...split(target));
        }
        continue;
      }
      if (!last) {
        await fh.close();
        throw notADirectory(this.logical(part));
      }
      this.track(fh);
      return { dir: this.top, name: part, logical: this.logical(part), missing: false, stat: st, fh, viaLink };
    }
    // The path ends at a directory (or the root): it is the top frame.
    const self = this.top;
    const dir = this.frames.length > 1 ? this.frames[this.frames.length - 2] : self;
    return { dir, name: self.name, logical: this.logical(), missing: false, stat: await self.fh.stat(), fh: self.fh, mount: self.mount, viaLink };
  }

  /** A mounted directory becomes the next frame; a mounted file is the answer (it must be last). */
  private async enterMount(m: RootMount, part: string, last: boolean): Promise<Omit<Located, 'viaLink'> | undefined> {
    const fh = await open(m.source, O_PATH);
    const st = await fh.stat();
    if (st.isDirectory()) {
      this.frames.push({ fh, name: part, mount: m, owned: true });
      return undefined;
    }
    await fh.close();
    if (!last) throw notADirectory(this.logical(part));
    return { dir: this.top, name: part, logical: this.logical(part), missing: false, mount: m, stat: st };
  }

  private extra: FileHandle[] = [];
  private track(fh: FileHandle): void {
    this.extra.push(fh);
  }

  private async pop(): Promise<void> {
    const f = this.frames.pop()!;
    if (f.owned) await f.fh.close();
  }

  private async toRoot(): Promise<void> {
    while (this.frames.length > 1) await this.pop();
  }

  async close(): Promise<void> {
    for (const f of this.frames.splice(1)) if (f.owned) await f.fh.close().catch(() => undefined);
    for (const fh of this.extra.splice(0)) await fh.close().catch(() => undefined);
  }
}

export const notADirectory = (logical: string) => new HullError('invalid', `"${logical}" is not a directory`);
