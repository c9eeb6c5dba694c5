import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { HullError, invalid } from '../../core/errors.js';
import type { Volume } from '../../core/volume.js';
import { run } from '../../sys/run.js';
import { extractTo, packPath } from '../archive.js';
import * as qcow2 from '../qcow2.js';
import { RootDir } from '../root-dir.js';
import type { VolumePaths } from './paths.js';

/**
 * `volume export` / `volume import`: a volume as one tar stream, so a backup
 * can be kept as a file or sent to another host's API.
 *
 *   local  the volume's files (`tar tf` lists them), packed and unpacked
 *          through directory handles with owners, modes and times kept
 *   block  `hull-volume.json` (driver, size, format), then `disk.qcow2`: the
 *          disk as one compact qcow2 (its internal snapshots are not carried)
 *
 * Import reads the first entry's name to tell them apart. A disk from a
 * backup is checked (`qemu-img check`) before it becomes a volume's.
 */
export const BLOCK_META = 'hull-volume.json';

export async function exportLocal(p: VolumePaths): Promise<Readable> {
  const root = RootDir.open(p.data);
  try {
    const packed = await packPath(root, '/.');
    void packed.done.finally(() => root.close());
    return packed.stream;
  } catch (e) {
    root.close();
    throw e;
  }
}

/** A stopped block volume's disk as a tar (a compact copy first, so the size is known and nothing changes under it). */
export async function exportBlock(v: Volume, p: VolumePaths): Promise<Readable> {
  const tmp = join(p.dir, 'export.tmp.qcow2');
  await rm(tmp, { force: true });
  await run(['qemu-img', 'convert', '-q', '-f', p.format, '-O', 'qcow2', p.disk, tmp], { timeoutMs: 3_600_000 });
  const size = (await stat(tmp)).size;
  const pack = tar.pack();
  const out = new PassThrough();
  const meta = Buffer.from(JSON.stringify({ driver: 'block', sizeBytes: v.sizeBytes, format: p.format, name: v.name }));
  pack.entry({ name: BLOCK_META, size: meta.length, mode: 0o644 }, meta);
  const entry = pack.entry({ name: 'disk.qcow2', size, mode: 0o600 });
  void pipeline(createReadStream(tmp), entry)
    .then(() => pack.finalize())
    .catch((e: unknown) => pack.destroy(e as Error))
    .finally(() => rm(tmp, { force: true }));
  pipeline(pack as unknown as Readable, out).catch((e: unknown) => out.destroy(e as Error));
  return out;
}

/** The name of a tar stream's first entry, read without consuming anything. */
export async function firstEntryName(s: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for (;;) {
    const c = s.read() as Buffer | null;
    if (c) {
      chunks.push(c);
      n += c.length;
      if (n >= 512) break;
      continue;
    }
    if (s.readableEnded) break;
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        s.off('readable', done).off('end', done).off('error', fail);
        resolve();
      };
      const fail = (e: Error) => {
        s.off('readable', done).off('end', done);
        reject(e);
      };
      s.once('readable', done).once('end', done).once('error', fail);
    });
  }
  const head = Buffer.concat(chunks);
  if (head.length) s.unshift(head);
  if (head.length < 512) throw invalid('the archive is empty or not a tar stream');
  return head.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '').replace(/^\.\//, '');
}

export async function importLocal(p: VolumePaths, archive: Readable): Promise<void> {
  const root = RootDir.open(p.data);
  try {
    await extractTo(root, archive, { dest: '/.', keepOwners: true });
  } finally {
    root.close();
  }
}

export interface BlockMeta {
  sizeBytes: number;
  format: 'qcow2' | 'raw';
}

/** Read a block backup: its metadata, then its disk into `diskTmp` (checked). */
export async function importBlock(archive: Readable, diskTmp: string): Promise<BlockMeta> {
  const ex = tar.extract();
  const feed = pipeline(archive, ex);
  feed.catch(() => undefined);
  let meta: BlockMeta | undefined;
  let gotDisk = false;
  for await (const entry of ex) {
    if (entry.header.name === BLOCK_META && entry.header.size! < 65536) meta = parseMeta(Buffer.concat(await collect(entry)));
    else if (entry.header.name === 'disk.qcow2' && meta && !gotDisk) {
      await pipeline(entry, createWriteStream(diskTmp, { mode: 0o600 }));
      gotDisk = true;
    } else {
      ex.destroy();
      throw invalid(`unexpected entry "${entry.header.name}" in a block volume backup (${BLOCK_META}, then disk.qcow2)`);
    }
  }
  await feed;
  if (!meta || !gotDisk) throw invalid(`a block volume backup holds ${BLOCK_META} and then disk.qcow2`);
  // First what the header names (never opening it): a backing or data file would read the host's files.
  const r = await run(['qemu-img', 'info', '--output=json', '-f', 'qcow2', diskTmp], { timeoutMs: 30_000 }).catch(() => {
    throw invalid('the backup\'s disk is not a qcow2 image');
  });
  const info = JSON.parse(r.stdout) as { 'virtual-size': number; 'backing-filename'?: string; 'format-specific'?: { data?: { 'data-file'?: string } } };
  if (info['backing-filename'] || info['format-specific']?.data?.['data-file']) throw invalid("the backup's disk must be a standalone qcow2 (no backing file, no external data file)");
  await qcow2.check(diskTmp, 'in the backup');
  return { sizeBytes: info['virtual-size'], format: meta.format };
}

function parseMeta(b: Buffer): BlockMeta {
  try {
    const j = JSON.parse(b.toString()) as { driver?: string; format?: string; sizeBytes?: number };
    if (j.driver !== 'block') throw new Error('not a block volume');
    return { sizeBytes: Number(j.sizeBytes) || 0, format: j.format === 'raw' ? 'raw' : 'qcow2' };
  } catch (e) {
    throw new HullError('invalid', `${BLOCK_META}: ${(e as Error).message}`);
  }
}

async function collect(s: AsyncIterable<unknown>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of s) out.push(c as Buffer);
  return out;
}
