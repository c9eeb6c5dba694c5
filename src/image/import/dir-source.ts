import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { invalid, isHullError } from '../../core/errors.js';
import type { BlobInfo, ContentStore } from '../content/content-store.js';
import { entryComponents } from '../unpack/safe-path.js';
import { type Expected, type ImportSource, MAX_METADATA } from './source.js';

/**
 * A directory archive, normally an OCI image layout. Files are read in
 * place; a name that resolves (through `..` or symlinks) outside the
 * directory is refused, so an archive cannot pull in host files such as
 * /etc/shadow as a "layer".
 */
export async function openDirSource(dir: string, content: ContentStore, created: Set<string>): Promise<ImportSource> {
  const root = await realpath(dir);
  const what = `image directory "${dir}"`;

  async function locate(path: string): Promise<string | undefined> {
    const parts = entryComponents(path, `${what}: file`);
    let real: string;
    try {
      real = await realpath(join(root, ...parts));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    if (!real.startsWith(root + sep)) throw invalid(`${what}: "${path}" points outside the directory`);
    return real;
  }

  return {
    what,
    created,
    async readFile(path) {
      const file = await locate(path);
      if (!file) return undefined;
      if ((await stat(file)).size > MAX_METADATA) throw invalid(`${what}: "${path}" is too large for a metadata file`);
      return readFile(file);
    },
    async ingest(path: string, expected?: Expected): Promise<BlobInfo> {
      const file = await locate(path);
      if (!file) throw invalid(`${what}: "${path}" is missing`);
      const blob = await content.writeBlob(createReadStream(file), expected?.digest, expected?.size).catch((e: unknown) => {
        throw isHullError(e) ? e.wrap(`${what}: "${path}"`) : e;
      });
      if (blob.created) created.add(blob.digest);
      return blob;
    },
  };
}
