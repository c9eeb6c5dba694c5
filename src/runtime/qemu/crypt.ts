import { createHash, randomBytes } from 'node:crypto';

/**
 * SHA-512 crypt (`$6$salt$hash`, Ulrich Drepper's specification, what glibc's
 * crypt(3), `openssl passwd -6` and `mkpasswd -m sha-512` write), so that a
 * VM's password is kept and handed to cloud-init as a hash, never as text:
 * cloud-init sets a `$6$…` password with `chpasswd -e`.
 */
const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ROUNDS = 5000; // the default: no `rounds=` field in the output

/** A crypt(3) hash cloud-init passes to `chpasswd -e` as is (its own test: `\$(1|2a|2y|5|6)(\$.+){2}`, no ':'). */
export const isCryptHash = (s: string): boolean => /^\$(1|2a|2y|5|6)(\$[^$:\s]+){2}$/.test(s) || /^\$6\$rounds=\d+\$[^$:\s]+\$[^$:\s]+$/.test(s);

export function sha512Crypt(password: string, salt = saltChars(16)): string {
  const p = Buffer.from(password, 'utf8');
  const s = Buffer.from(salt.slice(0, 16), 'utf8');
  const sha = (...parts: Buffer[]) => parts.reduce((h, b) => h.update(b), createHash('sha512')).digest();
  const b = sha(p, s, p);
  const a = createHash('sha512').update(p).update(s).update(repeat(b, p.length));
  for (let n = p.length; n > 0; n >>= 1) a.update(n & 1 ? b : p);
  let c = a.digest();
  const pBytes = repeat(sha(...Array<Buffer>(p.length).fill(p)), p.length);
  const sBytes = repeat(sha(...Array<Buffer>(16 + c[0]).fill(s)), s.length);
  for (let i = 0; i < ROUNDS; i++) {
    const h = createHash('sha512').update(i & 1 ? pBytes : c);
    if (i % 3) h.update(sBytes);
    if (i % 7) h.update(pBytes);
    c = h.update(i & 1 ? c : pBytes).digest();
  }
  return `$6$${s.toString('utf8')}$${encode(c)}`;
}

/** `len` bytes of `block` repeated. */
function repeat(block: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let o = 0; o < len; o += block.length) block.copy(out, o, 0, Math.min(block.length, len - o));
  return out;
}

/** crypt's own base64: 21 groups of three bytes in a fixed shuffle, then the last byte. */
function encode(c: Buffer): string {
  let out = '';
  const put = (w: number, n: number) => {
    for (let i = 0; i < n; i++, w >>= 6) out += ITOA64[w & 0x3f];
  };
  for (let k = 0; k < 21; k++) {
    const i = (22 * k) % 63;
    put((c[i] << 16) | (c[(i + 21) % 63] << 8) | c[(i + 42) % 63], 4);
  }
  put(c[63], 2);
  return out;
}

function saltChars(n: number): string {
  return [...randomBytes(n)].map((x) => ITOA64[x & 0x3f]).join('');
}
