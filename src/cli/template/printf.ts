import { formatFloat, formatNumber, goExponent, printValue, typeName } from './values.js';

/**
 * Go's fmt.Sprintf for the verbs templates use: %v %s %d %q %x %X %o %b %c
 * %U %e %E %f %F %g %G %t %T %%, with flags (- + 0 space #), width and
 * precision (also `*`). A wrong argument prints as Go's does:
 * `%!d(string=x)`, `%!d(MISSING)`, `%!(EXTRA int=2)`.
 */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  const re = /%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?(.?)/gsy;
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    re.lastIndex = pct;
    const m = re.exec(format)!;
    i = re.lastIndex;
    const [, flags, w, p, verb] = m;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (verb === '') {
      out += '%!(NOVERB)';
      continue;
    }
    const width = w === '*' ? Number(args[argi++]) : w ? Number(w) : undefined;
    const prec = p === undefined ? undefined : p === '*' ? Number(args[argi++]) : Number(p || 0);
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(verb, args[argi++], { flags, width, prec });
  }
  if (argi < args.length) out += `%!(EXTRA ${args.slice(argi).map((a) => `${typeName(a)}=${printValue(a)}`).join(', ')})`;
  return out;
}

interface Spec {
  flags: string;
  width?: number;
  prec?: number;
}

function formatOne(verb: string, v: unknown, s: Spec): string {
  if (verb === 'T') return pad(typeName(v), s);
  if (Array.isArray(v) && verb !== 'v' && verb !== 'x' && verb !== 'X') return `[${v.map((x) => formatOne(verb, x, { flags: s.flags })).join(' ')}]`;
  const body = convert(verb, v, s);
  return body === undefined ? bad(verb, v) : pad(body, s, typeof v === 'number' && /[-+# 0]*0/.test(s.flags) && !s.flags.includes('-'));
}

function bad(verb: string, v: unknown): string {
  return v === null ? `%!${verb}(<nil>)` : `%!${verb}(${typeName(v)}=${printValue(v)})`;
}

function convert(verb: string, v: unknown, s: Spec): string | undefined {
  switch (verb) {
    case 'v':
      return typeof v === 'number' ? sign(formatNumber(v), v, s) : printValue(v);
    case 's':
      if (typeof v !== 'string' && !(v instanceof Map) && !isObject(v)) return undefined;
      return typeof v === 'string' && s.prec !== undefined ? [...v].slice(0, s.prec).join('') : printValue(v);
    case 'q':
      if (typeof v === 'string') return goQuote(v);
      if (typeof v === 'number' && Number.isInteger(v)) return `'${String.fromCodePoint(v)}'`;
      return undefined;
    case 't':
      return typeof v === 'boolean' ? String(v) : undefined;
    case 'd':
    case 'o':
    case 'b':
    case 'c':
    case 'U':
      return typeof v === 'number' && Number.isInteger(v) ? integer(verb, v, s) : undefined;
    case 'x':
    case 'X':
      return hex(v, verb === 'X', s);
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
      return typeof v === 'number' ? float(verb, v, s) : undefined;
    default:
      return undefined;
  }
}

const isObject = (v: unknown) => typeof v === 'object' && v !== null;

function sign(body: string, n: number, s: Spec): string {
  if (n >= 0 && s.flags.includes('+')) return `+${body}`;
  if (n >= 0 && s.flags.includes(' ')) return ` ${body}`;
  return body;
}

function integer(verb: string, n: number, s: Spec): string {
  if (verb === 'c') return String.fromCodePoint(n);
  if (verb === 'U') return `U+${n.toString(16).toUpperCase().padStart(4, '0')}`;
  const base = verb === 'o' ? 8 : verb === 'b' ? 2 : 10;
  let digits = Math.abs(n).toString(base);
  if (s.prec !== undefined) digits = digits.padStart(s.prec, '0');
  if (s.flags.includes('#') && verb === 'o') digits = `0${digits}`;
  return sign(n < 0 ? `-${digits}` : digits, n, s);
}

function hex(v: unknown, upper: boolean, s: Spec): string | undefined {
  let out: string;
  if (typeof v === 'number' && Number.isInteger(v)) out = (v < 0 ? '-' : '') + (s.flags.includes('#') ? '0x' : '') + Math.abs(v).toString(16);
  else if (typeof v === 'string') out = Buffer.from(v).toString('hex');
  else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out = Buffer.from(v.join('')).toString('hex');
  else return undefined;
  return upper ? out.toUpperCase() : out;
}

function float(verb: string, n: number, s: Spec): string {
  const lower = verb.toLowerCase();
  let body: string;
  if (!Number.isFinite(n)) body = Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf';
  else if (lower === 'f') body = toFixedEven(n, s.prec ?? 6);
  else if (lower === 'e') body = goExponent(n.toExponential(s.prec ?? 6));
  else body = s.prec === undefined ? formatFloat(n) : gWithPrecision(n, s.prec);
  if (verb === 'E' || verb === 'G') body = body.toUpperCase();
  return sign(body, n, s);
}

function gWithPrecision(n: number, prec: number): string {
  const p = prec === 0 ? 1 : prec;
  const exp = n === 0 ? 0 : Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= p) {
    const [m, e] = n.toExponential(p - 1).split('e');
    return goExponent(`${m.includes('.') ? m.replace(/\.?0+$/, '') : m}e${e}`);
  }
  return String(Number(n.toPrecision(p)));
}

/**
 * Number.toFixed, but a tie (a double exactly halfway, such as 2.25 to one
 * place) rounds to even as Go's strconv does, where JavaScript rounds up.
 */
export function toFixedEven(n: number, digits: number): string {
  if (!Number.isFinite(n) || digits > 20 || Math.abs(n) >= 1e21) return n.toFixed(Math.min(digits, 100));
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(n));
  const bits = view.getBigUint64(0);
  const e = Number((bits >> 52n) & 0x7ffn);
  let m = bits & ((1n << 52n) - 1n);
  m = e === 0 ? m : m | (1n << 52n);
  const shift = BigInt((e === 0 ? 1 : e) - 1075); // |n| = m * 2^shift
  const scaled = m * 10n ** BigInt(digits);
  let q: bigint;
  if (shift >= 0n) q = scaled << shift;
  else {
    const div = 1n << -shift;
    q = scaled / div;
    const twice = 2n * (scaled % div);
    if (twice > div || (twice === div && q % 2n === 1n)) q += 1n;
  }
  const str = q.toString().padStart(digits + 1, '0');
  const body = digits ? `${str.slice(0, -digits)}.${str.slice(-digits)}` : str;
  return n < 0 || Object.is(n, -0) ? `-${body}` : body;
}

function pad(body: string, s: Spec, zeros = false): string {
  const len = [...body].length;
  if (s.width === undefined || len >= s.width) return body;
  const fill = s.width - len;
  if (s.flags.includes('-')) return body + ' '.repeat(fill);
  if (zeros) {
    const neg = /^[-+ ]/.test(body) ? body[0] : '';
    return neg + '0'.repeat(fill) + body.slice(neg.length);
  }
  return ' '.repeat(fill) + body;
}

/** strconv.Quote: Go's escapes, printable characters as they are. */
export function goQuote(s: string): string {
  const esc: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '\\': '\\\\', '"': '\\"' };
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (esc[ch]) out += esc[ch];
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd';
    else out += ch;
  }
  return `${out}"`;
}
