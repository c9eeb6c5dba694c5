import { PassThrough, type Readable } from 'node:stream';
import { extract, type Header as Headers } from 'tar-stream';
import { DockerError } from './errors.js';

/**
 * `docker cp` reads a path's stat from the `X-Docker-Container-Path-Stat`
 * header (base64 JSON: name, size, mode as Go's FileMode, mtime,
 * linkTarget) before the archive's bytes. Hull's copy gives the archive;
 * its first entry is the path itself, so the stat is read off that entry's
 * header and the archive goes on whole, from its first byte.
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

export function statOf(h: Headers): PathStat {
  const perm = (h.mode ?? 0) & 0o7777;
  const type = h.type === 'directory' ? MODE_DIR : h.type === 'symlink' ? MODE_SYMLINK : 0;
  const name = h.name.replace(/\/+$/, '').split('/').pop() || '/';
  return { name, size: h.size ?? 0, mode: type + perm, mtime: (h.mtime ?? new Date(0)).toISOString(), linkTarget: h.linkname ?? '' };
}

export const statHeader = (s: PathStat) => Buffer.from(JSON.stringify(s)).toString('base64');

/** The first entry's stat, and a stream of the whole archive from its first byte. */
export function peekStat(archive: NodeJS.ReadableStream): Promise<{ stat: PathStat; stream: Readable }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const ex = extract();
    let done = false;
    const out = new PassThrough();
    const onData = (b: Buffer) => {
      if (done) return;
      chunks.push(b);
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
    ex.on('error', (e) => !done && reject(new DockerError(500, `reading the archive: ${e.message}`)));
    archive.on('data', onData);
    archive.on('error', (e: Error) => (done ? out.destroy(e) : reject(e)));
    archive.on('end', () => !done && reject(new DockerError(404, 'the path has nothing to copy')));
  });
}
