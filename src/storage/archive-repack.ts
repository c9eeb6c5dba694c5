import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { invalid } from '../core/errors.js';
import { asCopyError } from './archive-extract.js';

type Entry = tar.ExtractEvents['entry'][1];

/**
 * A client's tar, read on the daemon and written again for a copy that is
 * extracted elsewhere (inside a VM-isolated container's guest, where Hull's
 * own extraction cannot run): the first entry is known before anything is
 * sent (docker cp's rules place the copy by it), and what goes on is a tar
 * Hull made: names relative, `..` refused, one top-level entry (renamed when
 * the copy lands under another name, as extractTo does), owners numeric
 * only, devices and fifos left out (as extractTo leaves them).
 */
export interface ClientArchive {
  first: tar.Header;
  /** The whole archive again, from its first entry, its top renamed `from` → `to` when asked. */
  repack(rename?: { from: string; to: string }): Readable;
  abort(): void;
}

export async function readClientArchive(archive: NodeJS.ReadableStream): Promise<ClientArchive> {
  const ex = tar.extract();
  const feed = pipeline(archive, ex);
  feed.catch(() => undefined);
  const it = ex[Symbol.asyncIterator]();
  let r: IteratorResult<Entry>;
  try {
    r = await it.next();
  } catch (e) {
    ex.destroy();
    throw asCopyError(e);
  }
  if (r.done) throw invalid('the archive holds no files');
  const first = r.value;
  return {
    first: first.header,
    abort: () => ex.destroy(),
    repack(rename) {
      const out = tar.pack();
      (async () => {
        for (let cur: Entry | undefined = first; cur; ) {
          await writeEntry(out, cur, rename);
          const n = await it.next();
          cur = n.done ? undefined : n.value;
        }
        await feed;
        out.finalize();
      })().catch((e: unknown) => {
        ex.destroy();
        out.destroy(asCopyError(e));
      });
      return out as unknown as Readable;
    },
  };
}

async function writeEntry(out: tar.Pack, entry: Entry, rename?: { from: string; to: string }): Promise<void> {
  const h = entry.header;
  const base = { name: entryName(h.name, rename), mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, mtime: h.mtime ?? new Date(0) };
  switch (h.type) {
    case 'file':
    case 'contiguous-file':
      return pipeline(entry, out.entry({ ...base, type: 'file', size: h.size ?? 0 }));
    case 'directory':
      out.entry({ ...base, type: 'directory' });
      break;
    case 'symlink':
      out.entry({ ...base, type: 'symlink', linkname: h.linkname ?? '' });
      break;
    case 'link':
      out.entry({ ...base, type: 'link', linkname: entryName(h.linkname ?? '', rename) });
      break;
    default:
      break; // devices and fifos are not made
  }
  for await (const _ of entry) {
    // read to its end: tar-stream parses the next entry after it
  }
}

/** The entry's path in the copy: relative, the top renamed, `.` dropped, `..` refused (extractTo's rules). */
export function entryName(name: string, rename?: { from: string; to: string }): string {
  const parts = name.split('/').filter((c) => c !== '');
  if (rename) {
    if (parts[0] !== rename.from) throw invalid(`archive entry "${name}" is outside its first entry "${rename.from}": one top-level entry is expected`);
    parts[0] = rename.to;
  }
  const out = parts.filter((c) => c !== '.');
  if (out.includes('..')) throw invalid(`archive entry "${name}" leaves the destination`);
  return out.length ? out.join('/') : '.';
}
