import type { Extract } from 'tar-stream';
import type { TarHeader } from './tar-entry.js';

/**
 * Extended attributes from a layer entry's PAX header, with their values as
 * the exact bytes the image carries.
 *
 * Why not `header.pax`: tar-stream 3 decodes every PAX record to a UTF-8
 * string (headers.js decodePax), so a binary value such as a
 * `security.capability` blob comes out with U+FFFD in place of its invalid
 * bytes and cannot be turned back into what the image said. Guessing is not
 * acceptable for an xattr the kernel trusts, so rawPax() keeps the undecoded
 * extended-header block: tar-stream hands it to `_decodeLongHeader` and folds
 * the result into the next entry's header in `_applyLongHeaders`; we wrap
 * both on this one Extract instance and put the raw block on that header as
 * well. paxXattrs() then parses the `LEN KEY=VALUE\n` records itself, keys as
 * UTF-8 and values as bytes. Should a tar-stream upgrade rename those
 * methods, rawPax() throws rather than silently dropping xattrs (the
 * unpack tests catch it); for that case paxXattrs() still refuses any value
 * whose decoded string has lost bytes instead of writing garbage.
 *
 * Records understood: `SCHILY.xattr.NAME=VALUE` (GNU tar, star, Go's
 * archive/tar, BuildKit) and `LIBARCHIVE.xattr.NAME=BASE64` (bsdtar; NAME is
 * URL-encoded there). Global (`g`) PAX headers are not consulted for xattrs.
 */

const RAW = Symbol('hull.rawPax');
type WithRaw = TarHeader & { [RAW]?: Buffer };

interface ExtractInternals {
  _header: (Omit<WithRaw, 'type'> & { type?: string | null }) | null;
  _decodeLongHeader(buf: Buffer): void;
  _applyLongHeaders(): void;
}

/** Keep each entry's raw PAX block on its header (see above). Call once, before piping data in. */
export function rawPax(extract: Extract): void {
  const x = extract as unknown as ExtractInternals;
  if (typeof x._decodeLongHeader !== 'function' || typeof x._applyLongHeaders !== 'function') {
    throw new Error('tar-stream internals changed: cannot read raw PAX headers (see pax-xattrs.ts)');
  }
  const decode = x._decodeLongHeader.bind(x);
  const applyLong = x._applyLongHeaders.bind(x);
  let pending: Buffer | null = null;
  x._decodeLongHeader = (buf: Buffer) => {
    // buf is a view into tar-stream's buffer list: copy it.
    if (x._header?.type === 'pax-header') pending = Buffer.from(buf);
    decode(buf);
  };
  x._applyLongHeaders = () => {
    const raw = pending;
    pending = null;
    applyLong();
    if (raw && x._header) (x._header as WithRaw)[RAW] = raw;
  };
}

export interface Xattr {
  name: string;
  value: Buffer;
}

export interface PaxXattrs {
  xattrs: Xattr[];
  /** Human-readable reasons for records not applied. */
  skipped: string[];
}

const SCHILY = 'SCHILY.xattr.';
const LIBARCHIVE = 'LIBARCHIVE.xattr.';

/**
 * Hull writes overlayfs metadata itself (whiteouts, opaque directories from
 * `.wh..wh..opq`); an image-supplied `trusted.overlay.*` would change what
 * overlayfs shows, so, as docker and containerd do, it is never applied.
 */
const REFUSED_PREFIX = 'trusted.overlay.';

/** The xattrs an entry's PAX header asks for, last record of a name winning. */
export function paxXattrs(header: TarHeader): PaxXattrs {
  const raw = (header as WithRaw)[RAW];
  const records = raw ? parseRecords(raw) : fromDecoded((header.pax as Record<string, string> | undefined) ?? null);
  const byName = new Map<string, Buffer>();
  const skipped: string[] = [];
  for (const { key, value } of records) {
    let name: string;
    let bytes: Buffer | null;
    if (key.startsWith(SCHILY)) {
      name = key.slice(SCHILY.length);
      bytes = value;
    } else if (key.startsWith(LIBARCHIVE)) {
      try {
        name = decodeURIComponent(key.slice(LIBARCHIVE.length));
      } catch {
        skipped.push(`${key}: not a valid URL-encoded name`);
        continue;
      }
      bytes = value === null ? null : Buffer.from(value.toString('latin1'), 'base64');
    } else {
      continue;
    }
    if (bytes === null) {
      skipped.push(`${name}: its value was not kept byte for byte by the tar reader`);
      continue;
    }
    if (name.startsWith(REFUSED_PREFIX)) {
      skipped.push(`${name}: overlayfs metadata is not taken from images`);
      continue;
    }
    // Printable ASCII without '=' or whitespace: every real namespace fits, and the setfattr dump stays unambiguous.
    if (!/^[a-z]+\.[\x21-\x3c\x3e-\x7e]+$/.test(name)) {
      skipped.push(`${JSON.stringify(name)}: not a valid xattr name`);
      continue;
    }
    byName.set(name, bytes);
  }
  return { xattrs: [...byName].map(([name, value]) => ({ name, value })), skipped };
}

interface PaxRecord {
  key: string;
  /** null when only a lossy decoded string was available. */
  value: Buffer | null;
}

/** POSIX pax records: `LEN KEY=VALUE\n`, LEN counting the whole record in bytes. Stops at the first malformed one, as tar-stream does. */
function parseRecords(buf: Buffer): PaxRecord[] {
  const out: PaxRecord[] = [];
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) break;
    const lenText = buf.toString('latin1', off, sp);
    if (!/^[0-9]+$/.test(lenText)) break;
    const len = Number(lenText);
    const end = off + len;
    if (len <= sp - off + 1 || end > buf.length || buf[end - 1] !== 0x0a) break;
    const eq = buf.indexOf(0x3d, sp + 1);
    if (eq < 0 || eq >= end - 1) break;
    out.push({ key: buf.toString('utf8', sp + 1, eq), value: Buffer.from(buf.subarray(eq + 1, end - 1)) });
    off = end;
  }
  return out;
}

/** Fallback on tar-stream's decoded strings: exact only when no byte was replaced. */
function fromDecoded(pax: Record<string, string> | null): PaxRecord[] {
  if (!pax) return [];
  return Object.entries(pax).map(([key, v]) => ({ key, value: v.includes('\uFFFD') ? null : Buffer.from(v, 'utf8') }));
}
