import { constants } from 'node:fs';
import { chmod, lchown, link, lutimes, mkdir, mkdtemp, open, rm, symlink, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HullError, invalid, isHullError } from '../../core/errors.js';
import { run } from '../exec.js';
import { paxXattrs, type Xattr } from './pax-xattrs.js';
import { entryComponents, lstatOrNull, safeParent } from './safe-path.js';
import { chunks, drain, type TarEntry as Entry, type TarHeader as Headers } from './tar-entry.js';

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/**
 * TarApplier writes one layer's tar entries into `root`, a fresh private
 * directory, keeping modes, owners, mtimes, symlinks, hard links and device
 * nodes. OCI whiteouts become overlayfs whiteouts because unpacked layers are
 * stacked as overlay lowerdirs: `.wh.NAME` turns into a 0:0 character device
 * NAME, `.wh..wh..opq` into the xattr trusted.overlay.opaque=y on its
 * directory. Anything that could write outside `root` is refused with
 * HullError 'invalid' naming the entry (see safe-path.ts).
 *
 *   const a = new TarApplier(dir);
 *   for await (const entry of extract) await a.apply(entry);
 *   await a.finish();   // directory mtimes, once nothing writes into them
 *
 * Extended attributes from PAX headers (SCHILY.xattr.*, LIBARCHIVE.xattr.*;
 * see pax-xattrs.ts for how their bytes are kept exact) are collected per
 * path and set in finish() with one `setfattr -h --restore` per layer: after
 * every chown and write, which would clear security.capability, and for a
 * path still as it was written. `trusted.overlay.*` from an image is never
 * applied; `user.*` only on files and directories (the kernel allows no
 * more). Skipped records are warned about, not fatal.
 */
export class TarApplier {
  private dirTimes: Array<{ path: string; mtime: Date }> = [];
  private xattrs = new Map<string, Xattr[]>();

  constructor(private readonly root: string) {}

  async apply(entry: Entry): Promise<void> {
    await this.applyHeader(entry.header, entry);
    await drain(entry); // on failure the caller tears the whole extract down instead
  }

  /** Set directory mtimes deepest first, after all their children are written. */
  async finish(): Promise<void> {
    await this.applyXattrs();
    const byDepth = [...this.dirTimes].sort((a, b) => b.path.length - a.path.length);
    for (const d of byDepth) if (await this.stillDir(d.path)) await utimes(d.path, d.mtime, d.mtime);
  }

  /**
   * A later entry may have removed a recorded directory or swapped a symlink
   * in for it or for one of its parents; utimes follows links, so check every
   * component again rather than touch whatever the path now reaches.
   */
  private async stillDir(path: string): Promise<boolean> {
    let p = this.root;
    for (const part of path === this.root ? [] : path.slice(this.root.length + 1).split('/')) {
      p = join(p, part);
      const st = await lstatOrNull(p);
      if (!st?.isDirectory()) return false;
    }
    return true;
  }

  /**
   * One setfattr for the whole layer. Paths are checked again first, as in
   * stillDir: a later entry may have swapped a symlink in for a parent, and
   * -h only protects the last component.
   */
  private async applyXattrs(): Promise<void> {
    let dump = '';
    for (const [path, list] of this.xattrs) {
      if (list.length === 0 || !(await this.stillThere(path))) continue;
      dump += `# file: ${escapePath(path)}\n`;
      for (const x of list) dump += `${x.name}=0x${x.value.toString('hex')}\n`;
      dump += '\n';
    }
    if (dump === '') return;
    const tmp = await mkdtemp(join(tmpdir(), 'hull-xattrs-'));
    try {
      const file = join(tmp, 'dump');
      await writeFile(file, dump, { mode: 0o600 });
      await run('setfattr', ['-h', `--restore=${file}`], 600_000).catch((e: unknown) => {
        // The kernel refused a value (EINVAL for a malformed capability, ...): a property of the layer.
        throw isHullError(e, 'unavailable') ? e : new HullError('invalid', `layer xattrs: ${(e as Error).message}`);
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  private async stillThere(path: string): Promise<boolean> {
    if (path === this.root) return true;
    const cut = path.lastIndexOf('/');
    return (await this.stillDir(path.slice(0, cut))) && (await lstatOrNull(path)) !== null;
  }

  private recordXattrs(path: string, h: Headers): void {
    const { xattrs, skipped } = paxXattrs(h);
    const fileOrDir = ['file', 'contiguous-file', 'directory', 'link'].includes(h.type ?? 'file');
    const kept = xattrs.filter((x) => {
      if (fileOrDir || !x.name.startsWith('user.')) return true;
      skipped.push(`${x.name}: user xattrs are only allowed on files and directories`);
      return false;
    });
    for (const why of skipped) console.warn(`layer entry ${JSON.stringify(h.name)}: xattr not applied: ${why}`);
    if (kept.length > 0 || this.xattrs.has(path)) this.xattrs.set(path, kept);
  }

  private async applyHeader(h: Headers, data: Entry): Promise<void> {
    const parts = entryComponents(h.name, 'layer entry');
    if (parts.length === 0) {
      if (h.type !== 'directory') return undefined;
      this.recordXattrs(this.root, h);
      return this.setDirMeta(this.root, h);
    }
    const base = parts[parts.length - 1];
    if (base.startsWith(WHITEOUT)) return this.whiteout(parts, h.name);
    const parent = await safeParent(this.root, parts, h.name);
    const path = join(parent, base);
    await this.applyEntry(path, h, data);
    if (await lstatOrNull(path)) this.recordXattrs(path, h);
  }

  private async applyEntry(path: string, h: Headers, data: Entry): Promise<void> {
    switch (h.type) {
      case 'directory':
        return this.directory(path, h);
      case 'file':
      case 'contiguous-file':
        await this.clear(path);
        return this.file(path, h, data);
      case 'symlink':
        await this.clear(path);
        await symlink(h.linkname ?? '', path);
        return this.setMeta(path, h, false);
      case 'link':
        return this.hardLink(path, h);
      case 'character-device':
      case 'block-device':
      case 'fifo':
        await this.clear(path);
        await makeSpecial(path, h);
        return this.setMeta(path, h, true);
      default:
        // PAX and GNU long-name headers are folded in by tar-stream; anything else carries no file.
        return undefined;
    }
  }

  /** A later entry replaces an earlier one of the same name, as tar does; a directory over a directory merges. */
  private async clear(path: string): Promise<void> {
    for (const p of this.xattrs.keys()) if (p === path || p.startsWith(`${path}/`)) this.xattrs.delete(p);
    if (await lstatOrNull(path)) await rm(path, { recursive: true, force: true });
  }

  private async directory(path: string, h: Headers): Promise<void> {
    const st = await lstatOrNull(path);
    if (st && !st.isDirectory()) await rm(path, { force: true });
    if (!st || !st.isDirectory()) await mkdir(path, { mode: 0o700 });
    await this.setDirMeta(path, h);
  }

  private async setDirMeta(path: string, h: Headers): Promise<void> {
    await lchown(path, h.uid ?? 0, h.gid ?? 0);
    await chmod(path, perm(h, 0o755));
    this.dirTimes.push({ path, mtime: h.mtime ?? new Date(0) });
  }

  private async file(path: string, h: Headers, data: Entry): Promise<void> {
    // O_EXCL|O_NOFOLLOW: the name was just cleared, so this creates a new file and never follows a link.
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const fh = await open(path, flags, 0o600);
    try {
      // Gather chunks into writes of about a MiB: a write per tar chunk makes big files CPU-bound.
      let pending: Buffer[] = [];
      let bytes = 0;
      for await (const chunk of chunks(data)) {
        pending.push(chunk);
        bytes += chunk.length;
        if (bytes >= WRITE_BATCH) {
          await writeAll(fh, pending, bytes);
          pending = [];
          bytes = 0;
        }
      }
      if (bytes > 0) await writeAll(fh, pending, bytes);
      await fh.chown(h.uid ?? 0, h.gid ?? 0);
      await fh.chmod(perm(h, 0o644)); // after chown, which clears setuid bits
      const mtime = h.mtime ?? new Date(0);
      await fh.utimes(mtime, mtime);
    } finally {
      await fh.close();
    }
  }

  private async hardLink(path: string, h: Headers): Promise<void> {
    const targetParts = entryComponents(h.linkname ?? '', `layer entry "${h.name}": hard link target`);
    const what = `layer entry "${h.name}" (hard link to "${h.linkname}")`;
    if (targetParts.length === 0) throw invalid(`${what}: a hard link needs a target`);
    const target = join(await this.existingParent(targetParts, what), targetParts[targetParts.length - 1]);
    if (target === path) return;
    const st = await lstatOrNull(target);
    if (!st) throw invalid(`${what}: the target is not in the layer before it`);
    if (st.isDirectory()) throw invalid(`${what}: the target is a directory`);
    await this.clear(path);
    await link(target, path); // link(2) does not follow a symlink target, so this stays inside root
  }

  /** Like safeParent, but for a hard-link target: every parent must already exist. */
  private async existingParent(parts: string[], what: string): Promise<string> {
    let dir = this.root;
    for (const part of parts.slice(0, -1)) {
      dir = join(dir, part);
      const st = await lstatOrNull(dir);
      if (!st) throw invalid(`${what}: the target is not in the layer before it`);
      if (!st.isDirectory()) throw invalid(`${what}: the target's path goes through a symlink or a file`);
    }
    return dir;
  }

  private async whiteout(parts: string[], name: string): Promise<void> {
    const base = parts[parts.length - 1];
    const dir = await safeParent(this.root, parts, name);
    if (base === OPAQUE) {
      await run('setfattr', ['-h', '-n', 'trusted.overlay.opaque', '-v', 'y', dir]);
      return;
    }
    const hidden = base.slice(WHITEOUT.length);
    if (hidden.startsWith(WHITEOUT)) return; // other .wh..wh.* names are aufs bookkeeping, meaningless here
    if (hidden === '' || hidden === '.' || hidden === '..') throw invalid(`layer entry "${name}": not a valid whiteout`);
    const path = join(dir, hidden);
    await this.clear(path);
    await run('mknod', [path, 'c', '0', '0']);
  }

  private async setMeta(path: string, h: Headers, withMode: boolean): Promise<void> {
    await lchown(path, h.uid ?? 0, h.gid ?? 0);
    if (withMode) await chmod(path, perm(h, 0o644));
    const mtime = h.mtime ?? new Date(0);
    await lutimes(path, mtime, mtime);
  }
}

async function makeSpecial(path: string, h: Headers): Promise<void> {
  if (h.type === 'fifo') {
    await run('mkfifo', [path]);
    return;
  }
  const kind = h.type === 'block-device' ? 'b' : 'c';
  await run('mknod', [path, kind, String(h.devmajor ?? 0), String(h.devminor ?? 0)]);
}

const WRITE_BATCH = 1024 * 1024;

/** A path for a setfattr dump: every byte but plain ones as \ooo, which setfattr --restore decodes. */
function escapePath(path: string): string {
  let out = '';
  for (const b of Buffer.from(path, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9._/+-]/.test(c) ? c : `\\${b.toString(8).padStart(3, '0')}`;
  }
  return out;
}

const perm = (h: Headers, dflt: number): number => (h.mode ?? dflt) & 0o7777;

async function writeAll(fh: FileHandle, chunks: Buffer[], total: number): Promise<void> {
  const { bytesWritten } = await fh.writev(chunks);
  if (bytesWritten === total) return;
  // A short write (rare): finish the rest one buffer at a time.
  const rest = Buffer.concat(chunks).subarray(bytesWritten);
  let off = 0;
  while (off < rest.length) off += (await fh.write(rest, off)).bytesWritten;
}
