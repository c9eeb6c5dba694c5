import { TemplateError } from './errors.js';

/**
 * The lexer of Go's text/template, as docker's `--format` takes it: text
 * between actions, `{{ … }}` with the `{{- ` and ` -}}` trim markers, and
 * inside an action fields, variables, literals, keywords and punctuation.
 * Positions are byte offsets into the source, for error messages.
 */
export type TokenType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'field' // .Name
  | 'variable' // $x, $
  | 'dot'
  | 'identifier' // a function name
  | 'keyword' // if else end range with nil true false break continue define template block
  | 'string' // "…" or `…`, value already unquoted
  | 'char' // 'a'
  | 'number'
  | 'bool'
  | 'nil'
  | 'declare' // :=
  | 'assign' // =
  | 'pipe'
  | 'leftParen'
  | 'rightParen'
  | 'comma'
  | 'eof';

export interface Token {
  type: TokenType;
  /** The source text (for strings: the unquoted value). */
  value: string;
  pos: number;
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'break', 'continue', 'define', 'template', 'block']);
const SPACE = new Set([' ', '\t', '\r', '\n']);
const isAlnum = (c: string) => /[\p{L}\p{Nd}_]/u.test(c);

export function lex(src: string): Token[] {
  return new Lexer(src).run();
}

class Lexer {
  private pos = 0;
  private tokens: Token[] = [];
  private parens = 0;

  constructor(private src: string) {}

  run(): Token[] {
    while (this.pos < this.src.length) this.text();
    this.tokens.push({ type: 'eof', value: '', pos: this.pos });
    return this.tokens;
  }

  private lineOf(pos: number): number {
    return 1 + (this.src.slice(0, pos).match(/\n/g)?.length ?? 0);
  }

  private fail(msg: string, pos = this.pos): never {
    throw new TemplateError(`template: :${this.lineOf(pos)}: ${msg}`);
  }

  /** Text up to the next action; `{{- ` trims the whitespace before it. */
  private text(): void {
    const at = this.src.indexOf('{{', this.pos);
    const end = at < 0 ? this.src.length : at;
    let text = this.src.slice(this.pos, end);
    const trimLeft = at >= 0 && this.src[at + 2] === '-' && SPACE.has(this.src[at + 3] ?? '');
    if (trimLeft) text = text.replace(/[ \t\r\n]+$/, '');
    if (text) this.tokens.push({ type: 'text', value: text, pos: this.pos });
    this.pos = end;
    if (at >= 0) this.action(trimLeft);
  }

  private action(trimLeft: boolean): void {
    const start = this.pos;
    this.pos += trimLeft ? 3 : 2;
    if (this.src.startsWith('/*', this.skipSpace(this.pos))) return this.comment(start);
    this.tokens.push({ type: 'leftDelim', value: '{{', pos: start });
    this.parens = 0;
    for (;;) {
      if (this.atRightDelim()) return this.rightDelim();
      if (this.pos >= this.src.length) this.fail('unclosed action', start);
      this.inside();
    }
  }

  private skipSpace(p: number): number {
    while (SPACE.has(this.src[p] ?? '')) p++;
    return p;
  }

  /** `{{/* … *\/}}`: nothing, but its trim markers still trim. */
  private comment(start: number): void {
    const open = this.skipSpace(this.pos);
    const close = this.src.indexOf('*/', open + 2);
    if (close < 0) this.fail('unclosed comment', start);
    let p = close + 2;
    const trimRight = this.src.startsWith(' -}}', p) || (SPACE.has(this.src[p] ?? '') && this.src.startsWith('-}}', this.skipSpace(p)));
    p = trimRight ? this.src.indexOf('-}}', p) + 1 : p;
    if (!this.src.startsWith('}}', p)) this.fail('comment ends before closing delimiter', start);
    this.pos = p + 2;
    if (trimRight) this.pos = this.skipSpace(this.pos);
  }

  /** ` -}}` or `}}`. */
  private atRightDelim(): boolean {
    if (this.src.startsWith('}}', this.pos)) return true;
    return SPACE.has(this.src[this.pos] ?? '') && this.src.startsWith('-}}', this.skipSpace(this.pos));
  }

  private rightDelim(): void {
    if (this.parens > 0) this.fail('unclosed left paren');
    const trim = !this.src.startsWith('}}', this.pos);
    this.pos = trim ? this.src.indexOf('-}}', this.pos) + 3 : this.pos + 2;
    this.tokens.push({ type: 'rightDelim', value: '}}', pos: this.pos - 2 });
    if (trim) this.pos = this.skipSpace(this.pos);
  }

  private push(type: TokenType, value: string, pos: number): void {
    this.tokens.push({ type, value, pos });
  }

  private inside(): void {
    const c = this.src[this.pos];
    const start = this.pos;
    if (SPACE.has(c)) {
      this.pos = this.skipSpace(this.pos);
      return this.push('space', ' ', start);
    }
    if (c === '"') return this.quoted(start);
    if (c === '`') return this.raw(start);
    if (c === "'") return this.charConst(start);
    if (c === '$') return this.word('variable', start, 1);
    if (c === '.') {
      const n = this.src[this.pos + 1] ?? '';
      if (/\d/.test(n)) return this.number(start);
      if (isAlnum(n)) return this.word('field', start, 1);
      this.pos++;
      return this.push('dot', '.', start);
    }
    if (c === ':') {
      if (this.src[this.pos + 1] !== '=') this.fail('expected :=');
      this.pos += 2;
      return this.push('declare', ':=', start);
    }
    const single: Record<string, TokenType> = { '|': 'pipe', '=': 'assign', ',': 'comma', '(': 'leftParen', ')': 'rightParen' };
    if (single[c]) {
      if (c === '(') this.parens++;
      if (c === ')' && --this.parens < 0) this.fail(`unexpected right paren`);
      this.pos++;
      return this.push(single[c], c, start);
    }
    if (/[-+\d]/.test(c)) return this.number(start);
    if (isAlnum(c)) return this.identifier(start);
    this.fail(`unrecognized character in action: ${JSON.stringify(c)}`);
  }

  private word(type: TokenType, start: number, skip: number): void {
    this.pos += skip;
    while (this.pos < this.src.length && isAlnum(this.src[this.pos])) this.pos++;
    this.push(type, this.src.slice(start, this.pos), start);
  }

  private identifier(start: number): void {
    while (this.pos < this.src.length && isAlnum(this.src[this.pos])) this.pos++;
    const w = this.src.slice(start, this.pos);
    if (w === 'true' || w === 'false') return this.push('bool', w, start);
    if (w === 'nil') return this.push('nil', w, start);
    this.push(KEYWORDS.has(w) ? 'keyword' : 'identifier', w, start);
  }

  private number(start: number): void {
    const m = /^[-+]?(0[xX][0-9a-fA-F_]+|0[oObB][0-7_]+|(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?)/.exec(this.src.slice(this.pos));
    const text = m?.[0] ?? '';
    if (!text || !/\d/.test(text) || isAlnum(this.src[this.pos + text.length] ?? '')) this.fail(`bad number syntax: ${JSON.stringify(this.src.slice(this.pos, this.pos + text.length + 1))}`);
    this.pos += text.length;
    this.push('number', text, start);
  }

  private quoted(start: number): void {
    let p = this.pos + 1;
    while (p < this.src.length && this.src[p] !== '"') {
      if (this.src[p] === '\\') p++;
      if (this.src[p] === '\n') break;
      p++;
    }
    if (this.src[p] !== '"') this.fail('unterminated quoted string');
    const body = this.src.slice(this.pos, p + 1);
    this.pos = p + 1;
    this.push('string', unquote(body, (m) => this.fail(m, start)), start);
  }

  private raw(start: number): void {
    const end = this.src.indexOf('`', this.pos + 1);
    if (end < 0) this.fail('unterminated raw quoted string');
    this.push('string', this.src.slice(this.pos + 1, end), start);
    this.pos = end + 1;
  }

  private charConst(start: number): void {
    const m = /^'(\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[^'])|[^\\'\n])'/u.exec(this.src.slice(this.pos));
    if (!m) this.fail('unterminated character constant');
    this.pos += m[0].length;
    const ch = m[1].startsWith('\\') ? unquote(`"${m[1]}"`, (e) => this.fail(e, start)) : m[1];
    this.push('char', String(ch.codePointAt(0)), start);
  }
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };

/** A Go interpreted string literal's value. */
function unquote(s: string, fail: (m: string) => never): string {
  return s.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_m, e: string) => {
    if (/^[xuU]/.test(e)) return String.fromCodePoint(parseInt(e.slice(1), 16));
    if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8));
    if (ESCAPES[e] === undefined) fail(`invalid syntax in string: \\${e}`);
    return ESCAPES[e];
  });
}
