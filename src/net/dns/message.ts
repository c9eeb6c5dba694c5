/**
 * The little of DNS (RFC 1035) the network name server needs, written here
 * rather than pulled from a library: read a query's header and first
 * question, and answer it with A records, no data, or an error code. Anything
 * else is forwarded upstream byte for byte, so it is never parsed.
 */
export const TYPE_A = 1;
export const TYPE_AAAA = 28;
export const CLASS_IN = 1;
export const RCODE = { noError: 0, formErr: 1, servFail: 2, nxDomain: 3, refused: 5 } as const;

const HEADER = 12;
const FLAG_QR = 0x8000;
const FLAG_OPCODE = 0x7800;
const FLAG_RD = 0x0100;
const FLAG_AA = 0x0400;
const FLAG_RA = 0x0080;

export interface Query {
  id: number;
  flags: number;
  name: string;
  type: number;
  class: number;
  /** Where the question section ends (the answer copies it verbatim). */
  questionEnd: number;
}

/** A standard query with one question, or undefined for anything else (responses, other opcodes, junk). */
export function parseQuery(buf: Buffer): Query | undefined {
  if (buf.length < HEADER) return undefined;
  const flags = buf.readUInt16BE(2);
  if (flags & FLAG_QR || (flags & FLAG_OPCODE) !== 0 || buf.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let off = HEADER;
  for (;;) {
    if (off >= buf.length) return undefined;
    const len = buf[off];
    if (len === 0) break;
    if (len > 63 || off + 1 + len > buf.length) return undefined; // no compression in a question
    labels.push(buf.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  off += 1;
  if (off + 4 > buf.length) return undefined;
  return { id: buf.readUInt16BE(0), flags, name: labels.join('.').toLowerCase(), type: buf.readUInt16BE(off), class: buf.readUInt16BE(off + 2), questionEnd: off + 4 };
}

/** Answer `q` (read from `query`) with these IPv4 addresses, or with no records and `rcode`. */
export function buildAnswer(query: Buffer, q: Query, ips: string[], rcode: number = RCODE.noError, ttl = 60): Buffer {
  const header = Buffer.alloc(HEADER);
  header.writeUInt16BE(q.id, 0);
  header.writeUInt16BE(FLAG_QR | FLAG_AA | FLAG_RA | (q.flags & FLAG_RD) | (rcode & 0xf), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(ips.length, 6);
  const answers = ips.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc000 | HEADER, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(ttl, 6);
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((o, i) => (rr[12 + i] = Number(o)));
    return rr;
  });
  return Buffer.concat([header, query.subarray(HEADER, q.questionEnd), ...answers]);
}

/**
 * Whether `reply` answers the query `sent` (read as `q`): a response with
 * this id and the same one question, ASCII case aside. An error answer may
 * leave the question out (it carries nothing to believe). Anything else that
 * reaches a forward's socket is a stray or a forgery.
 */
export function answers(reply: Buffer, id: number, sent: Buffer, q: Query): boolean {
  if (reply.length < HEADER || reply.readUInt16BE(0) !== id || !(reply.readUInt16BE(2) & FLAG_QR)) return false;
  const qd = reply.readUInt16BE(4);
  if (qd === 0) return (reply.readUInt16BE(2) & 0xf) !== RCODE.noError;
  if (qd !== 1 || reply.length < q.questionEnd) return false;
  return reply.toString('latin1', HEADER, q.questionEnd).toLowerCase() === sent.toString('latin1', HEADER, q.questionEnd).toLowerCase();
}

/** An error answer for a packet we could not read as a query: its id, FORMERR. */
export function formErr(buf: Buffer): Buffer | undefined {
  if (buf.length < HEADER || buf.readUInt16BE(2) & FLAG_QR) return undefined;
  const h = Buffer.alloc(HEADER);
  h.writeUInt16BE(buf.readUInt16BE(0), 0);
  h.writeUInt16BE(FLAG_QR | FLAG_RA | RCODE.formErr, 2);
  return h;
}

/** A query for `name` (for tests and the fake resolver's clients). */
export function buildQuery(id: number, name: string, type = TYPE_A): Buffer {
  const labels = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')]));
  const h = Buffer.alloc(HEADER);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(FLAG_RD, 2);
  h.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(type, 1);
  tail.writeUInt16BE(CLASS_IN, 3);
  return Buffer.concat([h, ...labels, tail]);
}

/** The A records of an answer (enough for tests): [rcode, addresses]. */
export function readAnswer(buf: Buffer): { id: number; rcode: number; ips: string[] } {
  const id = buf.readUInt16BE(0);
  const rcode = buf.readUInt16BE(2) & 0xf;
  const an = buf.readUInt16BE(6);
  let off = HEADER;
  const skipName = () => {
    while (off < buf.length) {
      const len = buf[off];
      if (len === 0) return void (off += 1);
      if ((len & 0xc0) === 0xc0) return void (off += 2);
      off += 1 + len;
    }
  };
  skipName();
  off += 4;
  const ips: string[] = [];
  for (let i = 0; i < an && off < buf.length; i++) {
    skipName();
    const type = buf.readUInt16BE(off);
    const rdlen = buf.readUInt16BE(off + 8);
    if (type === TYPE_A && rdlen === 4) ips.push([...buf.subarray(off + 10, off + 14)].join('.'));
    off += 10 + rdlen;
  }
  return { id, rcode, ips };
}
