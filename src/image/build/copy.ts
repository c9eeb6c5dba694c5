import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, lchown, lstat, lutimes, mkdir, open, readdir, readlink, symlink, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HullError, invalid } from '../../core/errors.js';
import { resolveInRoot } from '../../storage/rootfs-path.js';
import { decompressor, detectCompression } from '../unpack/decompress.js';
import { applyTar } from '../unpack/apply-tar.js';

export interface Owner {
  uid: number;
  gid: number;
}

/** What one COPY or ADD writes, its sources already matched. */
export interface CopyPlan {
  /** Host paths of the sources (in the context, or in a stage's view). */
  sources: string[];
  /** Absolute destination in the image, WORKDIR applied; a trailing `/` means a directory. */
  dest: string;
  owner?: Owner;
  mode?: number;
  /** ADD: a local tar (plain or gzip) is unpacked into the destination. */
  extractTars: boolean;
}

const GLOB = /[*?[]/;

/**
 * Match COPY sources against `root` as docker does: each pattern is a path
 * relative to the root whose segments may hold `*`, `?` and `[...]`; a
 * pattern without them must exist. Paths never leave `root` (symlinks are
 * resolved inside it).
 */
export async function matchSources(root: string, patterns: string[], what: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of patterns) {
    if (/^[a-z]+:\/\//i.test(p)) throw invalid(`${what}: fetching URLs (${p}) is not supported: download the file into the build context instead`);
    const segs = p.split('/').filter((s) => s !== '' && s !== '.');
    if (segs.includes('..') && !GLOB.test(p)) {
      const r = await resolveInRoot(root, segs.join('/'));
      out.push(r);
      continue;
    }
    const found = await glob(root, root, segs);
    if (found.length === 0) throw invalid(`${what}: ${GLOB.test(p) ? 'no source files were specified by' : 'file not found in build context or excluded by .dockerignore:'} ${p}`);
    out.push(...found);
  }
  return out;
}

async function glob(root: string, at: string, segs: string[]): Promise<string[]> {
  if (segs.length === 0) return (await exists(at)) ? [at] : [];
  const [seg, ...rest] = segs;
  if (!GLOB.test(seg)) return glob(root, await resolveInRoot(root, join(at.slice(root.length), seg)), rest);
  const re = globRegex(seg);
  const names = (await readdir(at).catch(() => [] as string[])).filter((n) => re.test(n)).sort();
  const all: string[] = [];
  for (const n of names) all.push(...(await glob(root, join(at, n), rest)));
  return all;
}

function globRegex(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 1);
      if (end < 0) throw invalid(`bad pattern "${seg}"`);
      re += `[${seg.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** A digest of the sources' names, types, modes, link targets and contents: the cache key's part for COPY/ADD. */
export async function hashSources(sources: string[]): Promise<string> {
  const h = createHash('sha256');
  for (const s of sources) await hashTree(h, s, basename(s));
  return h.digest('hex');
}

async function hashTree(h: Hash, path: string, rel: string): Promise<void> {
  const st = await lstat(path);
  h.update(`${rel}\0${st.mode.toString(8)}\0`);
  if (st.isSymbolicLink()) h.update(`${await readlink(path)}\0`);
  else if (st.isFile()) {
    for await (const c of createReadStream(path)) h.update(c as Buffer);
    h.update('\0');
  } else if (st.isDirectory()) {
    for (const n of (await readdir(path)).sort()) await hashTree(h, join(path, n), `${rel}/${n}`);
  }
}

/**
 * Write a COPY/ADD into `layerDir` (a fresh dir that becomes the layer).
 * `view` is the image so far: the destination is resolved through its
 * symlinks, a destination that is a directory there receives the sources,
 * and parent directories keep the mode and owner they have there.
 */
export async function copyIntoLayer(layerDir: string, view: string, plan: CopyPlan): Promise<void> {
  const asDir = plan.dest.endsWith('/') || plan.sources.length > 1;
  const resolved = (await resolveInRoot(view, plan.dest)).slice(view.length) || '/';
  const destIsDir = asDir || (await lstat(join(view, resolved)).then((s) => s.isDirectory(), () => false));
  for (const src of plan.sources) {
    const st = await lstat(src);
    if (plan.extractTars && st.isFile() && (await isTar(src))) {
      await ensureDirs(layerDir, view, resolved, plan.owner);
      await extractTar(src, join(layerDir, resolved));
    } else if (st.isDirectory()) {
      await ensureDirs(layerDir, view, resolved, plan.owner);
      for (const n of (await readdir(src)).sort()) await copyTree(join(src, n), join(layerDir, resolved, n), plan);
    } else {
      const target = destIsDir ? join(resolved, basename(src)) : resolved;
      await ensureDirs(layerDir, view, dirname(target), plan.owner);
      await copyTree(src, join(layerDir, target), plan);
    }
  }
}

/** Make `rel` and its parents in the layer, with the metadata they have in the image, or root's 0755 (the owner's, with --chown) when new. */
async function ensureDirs(layerDir: string, view: string, rel: string, owner?: Owner): Promise<void> {
  const parts = rel.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const sub = parts.slice(0, i).join('/');
    const at = join(layerDir, sub);
    if (await exists(at)) continue;
    const there = await lstat(join(view, sub)).catch(() => null);
    await mkdir(at);
    if (there?.isDirectory()) {
      await chmod(at, there.mode & 0o7777);
      await lchown(at, there.uid, there.gid);
      await utimes(at, there.atime, there.mtime);
    } else {
      await chmod(at, 0o755);
      await lchown(at, owner?.uid ?? 0, owner?.gid ?? 0);
    }
  }
}

async function copyTree(src: string, dst: string, plan: CopyPlan): Promise<void> {
  const st = await lstat(src);
  const uid = plan.owner?.uid ?? 0;
  const gid = plan.owner?.gid ?? 0;
  if (st.isDirectory()) {
    await mkdir(dst, { recursive: true });
    for (const n of (await readdir(src)).sort()) await copyTree(join(src, n), join(dst, n), plan);
  } else if (st.isSymbolicLink()) {
    await symlink(await readlink(src), dst);
    await lchown(dst, uid, gid);
    await lutimes(dst, st.atime, st.mtime);
    return;
  } else if (st.isFile()) {
    await copyFile(src, dst);
  } else {
    return; // devices, fifos, sockets in a context are not copied
  }
  await chmod(dst, plan.mode ?? st.mode & 0o7777);
  await lchown(dst, uid, gid);
  await utimes(dst, st.atime, st.mtime);
}

async function isTar(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(263);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return true;
    return bytesRead >= 262 && buf.subarray(257, 262).toString() === 'ustar';
  } finally {
    await fh.close();
  }
}

/** ADD of a local archive: unpacked with the same safe applier as image layers, so nothing lands outside the destination. */
async function extractTar(archive: string, into: string): Promise<void> {
  const what = `ADD ${basename(archive)}`;
  const streams = [createReadStream(archive), decompressor(await detectCompression(archive, what), what)];
  await applyTar(streams, into, (e) => (e instanceof HullError ? e : invalid(`${what}: ${(e as Error).message}`)));
}

const exists = (p: string) => lstat(p).then(() => true, () => false);
