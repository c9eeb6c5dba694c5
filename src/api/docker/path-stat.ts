import { PassThrough, type Readable } from 'node:stream';
import { extract, type Header as Headers } from 'tar-stream';
import { DockerError } from './errors.js';

/**
 * `docker cp` reads a path's stat from the `X-Docker-Container-Path-Stat`
 * header (base64 JSON: name, size, mode as Go's FileMode, mtime,
 * linkTarget) before the archive's bytes. Hull's copy gives the archive;
 * its first entry is the path itself, so the stat is read off that entry's
 * header and the archive goes on whole, from its first byte.
 *
 * The archive may come from a VM-isolated container's guest, so nothing in it
 * is trusted: at most PEEK_MAX bytes are held before the first entry (a pax
 * or long-name header cannot make the daemon buffer without bound), and the
 * stat's fields are checked (a size that is not a safe integer is 0, a time
 * that is not one is the epoch, names are cut to PATH_MAX).
 */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** Go's os.FileMode type bits. */
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const PEEK_MAX = 1024 * 1024;
const PATH_MAX = 4096;

export function statOf(h: Headers): PathStat {
  const perm = (Number(h.mode) || 0) & 0o7777;
  const type = h.type === 'directory' ? MODE_DIR : h.type === 'symlink' ? MODE_SYMLINK : 0;
  const name = String(h.name ?? '').replace(/\/+$/, '').split('/').pop() || '/';
  const size = Number.isSafeInteger(h.size) && h.size! >= 0 ? h.size! : 0;
  const t = h.mtime instanceof Date && Number.isFinite(h.mtime.getTime()) ? h.mtime : new Date(0);
  return { name: name.slice(0, PATH_MAX), size, mode: type + perm, mtime: t.toISOString(), linkTarget: String(h.linkname ?? '').slice(0, PATH_MAX) };
}


export const statHeader = (s: PathStat) => Buffer.from(JSON.stringify(s)).toString('base64');

/** The first entry's stat, and a stream of the whole archive from its first byte. */
export function peekStat(archive: NodeJS.ReadableStream): Promise<{ stat: PathStat; stream: Readable }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const ex = extract();
    let done = false;
    let held = 0;
    const out = new PassThrough();
    // The caller's end of it (a HEAD's destroy, a client gone) is the source's: its copy stops and lets go of the container.
    const drop = () => (archive as Readable).destroy?.();
    out.on('close', drop);
    const onData = (b: Buffer) => {
      if (done) return;
      chunks.push(b);
      held += b.length;
      if (held > PEEK_MAX) {
        done = true;
        archive.off('data', onData);
        ex.destroy();
        drop();
        return reject(new DockerError(500, `reading the archive: no entry in its first ${PEEK_MAX} bytes`));
      }
      ex.write(b);
    };
    ex.on('entry', (h, body) => {
      if (done) return body.resume();
      done = true;
      archive.off('data', onData);
      archive.pause();
      for (const c of chunks) out.write(c);
      archive.pipe(out);
      archive.resume();
      resolve({ stat: statOf(h), stream: out });
      ex.destroy();
    });
    ex.on('error', (e) => {
      if (done) return;
      drop();
      reject(new DockerError(500, `reading the archive: ${e.message}`));
    });
    archive.on('data', onData);
    archive.on('error', (e: Error) => (done ? out.destroy(e) : reject(e)));
    archive.on('end', () => !done && reject(new DockerError(404, 'the path has nothing to copy')));
  });
}
