import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { DockerIgnore } from './dockerignore.js';

/**
 * The build context as a tar stream, the way docker's client sends it: every
 * file under `dir` that .dockerignore does not leave out, with modes, link
 * targets and contents; the Dockerfile and .dockerignore always go, since the
 * daemon needs them. Directories left out whole are not walked at all.
 */
export async function packContext(dir: string, dockerfile: string): Promise<NodeJS.ReadableStream> {
  const ignore = DockerIgnore.parse(await readFile(join(dir, '.dockerignore'), 'utf8').catch(() => ''));
  const always = new Set([dockerfile, '.dockerignore']);
  const pack = tar.pack();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(dir, path));
      const out = !always.has(path) && ignore.excluded(path);
      if (out && !(st.isDirectory() && ignore.hasExceptions)) continue;
      const header = { name: path, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
      if (st.isDirectory()) {
        if (!out) await entry(pack, { ...header, type: 'directory' });
        await walk(path);
      } else if (st.isSymbolicLink()) await entry(pack, { ...header, type: 'symlink', linkname: await readlink(join(dir, path)) });
      else if (st.isFile()) await fileEntry(pack, { ...header, size: st.size }, join(dir, path));
    }
  };
  void walk('').then(
    () => pack.finalize(),
    (e: Error) => pack.destroy(e),
  );
  return pack as unknown as NodeJS.ReadableStream;
}

function entry(pack: tar.Pack, h: Partial<tar.Header> & { name: string }): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(h, (err) => (err ? reject(err) : resolve())));
}

function fileEntry(pack: tar.Pack, h: Partial<tar.Header> & { name: string; size: number }, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = pack.entry({ ...h, type: 'file' }, (err) => (err ? reject(err) : resolve()));
    pipeline(createReadStream(path), sink as unknown as NodeJS.WritableStream).catch(reject);
  });
}
