import { lstat, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { hold } from './held.js';

/**
 * The files of one rotated log: PATH is the newest, the one being written;
 * PATH.N are older ones, a higher N newer. Three writers rotate them, each
 * its own way, and one reader (reader.ts) reads them all:
 *
 *   conmon   (containers) at --log-size-max it replaces PATH with a new file
 *            (PATH.tmp renamed over it); the daemon keeps PATH also linked as
 *            a PATH.N, so the replaced file lives on (conmon-rotation.ts).
 *   daemon   (VM-isolated containers' output, writer.ts) renames PATH to the
 *            next PATH.N itself, then opens a new PATH.
 *   QEMU     (VM consoles) cannot reopen its log: the daemon copies PATH to
 *            the next PATH.N and empties PATH in place (copy-rotation.ts).
 *
 * In all three a file is rotated whole and the number of files is pruned to
 * the policy's maxFile, the newest included.
 */
export class LogFiles {
  readonly dir: string;
  private base: string;

  constructor(readonly path: string) {
    this.dir = dirname(path);
    this.base = basename(path);
  }

  gen(seq: number): string {
    return `${this.path}.${seq}`;
  }

  /** The older files' numbers, oldest first. */
  async seqs(): Promise<number[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return seqsIn(names, this.base);
  }

  async nextSeq(): Promise<number> {
    return ((await this.seqs()).at(-1) ?? 0) + 1;
  }

  /**
   * Every file with its inode, oldest first, PATH last. Left out: a PATH.N
   * that is PATH itself (a link), and an empty one made ready as conmon's
   * next PATH (conmon-rotation.ts), which is not an older file.
   */
  async open(): Promise<OpenSegment[]> {
    // A rotation (or the next file made ready) while listing would put the files out of order: list again.
    const ino = async (p: string) => (await lstat(p).catch(() => undefined))?.ino;
    for (let tries = 0; ; tries++) {
      const next = await ino(`${this.path}.tmp`);
      const segs = await this.list(next);
      const cur = segs.at(-1)?.path === this.path ? segs.at(-1)!.ino : undefined;
      if ((cur === (await ino(this.path)) && next === (await ino(`${this.path}.tmp`))) || tries === 4) return segs;
      await closeAll(segs);
    }
  }

  private async list(next: number | undefined): Promise<OpenSegment[]> {
    const out: OpenSegment[] = [];
    const cur = await openSegment(this.path);
    for (const seq of await this.seqs()) {
      const s = await openSegment(this.gen(seq), seq);
      if (!s) continue; // pruned meanwhile: it was the oldest
      if (cur && s.ino === cur.ino) cur.seq = seq;
      if ((cur && s.ino === cur.ino) || (s.ino === next && (await s.fh.stat()).size === 0)) await closeSegment(s);
      else out.push(s);
    }
    if (cur) out.push(cur);
    return out;
  }

  /** Keep the newest `maxFile` files, PATH included: older PATH.N go, oldest first. */
  async prune(maxFile: number): Promise<void> {
    const segs = await this.open();
    await closeAll(segs);
    const old = segs.filter((s) => s.path !== this.path);
    const keep = maxFile - (segs.at(-1)?.path === this.path ? 1 : 0);
    for (const s of old.slice(0, Math.max(0, old.length - keep))) await unlink(s.path).catch(() => undefined);
  }
}

export interface OpenSegment {
  path: string;
  fh: FileHandle;
  ino: number;
  /** Its number when it is (or is linked as) PATH.N. */
  seq?: number;
}

async function openSegment(path: string, seq?: number): Promise<OpenSegment | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL' });
    hold(st.ino, 1);
    return { path, fh, ino: st.ino, seq };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

export async function closeSegment(s: OpenSegment): Promise<void> {
  hold(s.ino, -1);
  await s.fh.close().catch(() => undefined);
}

export async function closeAll(segs: OpenSegment[]): Promise<void> {
  await Promise.all(segs.map(closeSegment));
}

/** The N of every `<base>.N` among `names`, ascending. */
export function seqsIn(names: string[], base: string): number[] {
  const prefix = `${base}.`;
  return names
    .filter((n) => n.startsWith(prefix) && /^\d{1,15}$/.test(n.slice(prefix.length)))
    .map((n) => Number(n.slice(prefix.length)))
    .sort((a, b) => a - b);
}

