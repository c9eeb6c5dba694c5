import { invalid } from '../../core/errors.js';

/** Variables visible to a substitution: ENV then ARG values in scope. */
export type Vars = Map<string, string>;

/**
 * Docker's word processing for instruction arguments (its `shell.Lex`):
 * split on unquoted whitespace, drop quotes, and expand `$VAR`, `${VAR}`,
 * `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}` and `${VAR+alt}`.
 * Single quotes keep everything literal; the escape character (`\` unless
 * the Dockerfile says otherwise) keeps the next character literal.
 */
export function processWords(text: string, vars: Vars, escape = '\\'): string[] {
  return new Lexer(text, vars, escape).words(true);
}

/** The same, keeping whitespace: one word (WORKDIR, USER, a single value). */
export function processWord(text: string, vars: Vars, escape = '\\'): string {
  return new Lexer(text, vars, escape).words(false).join('');
}

class Lexer {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly vars: Vars,
    private readonly esc: string,
  ) {}

  words(split: boolean): string[] {
    const out: string[] = [];
    let cur = '';
    let any = false;
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (split && /\s/.test(c)) {
        if (any) out.push(cur);
        cur = '';
        any = false;
        this.i++;
        continue;
      }
      any = true;
      if (c === "'") cur += this.single();
      else if (c === '"') cur += this.double();
      else if (c === '$') cur += this.dollar();
      else if (c === this.esc && this.i + 1 < this.s.length) {
        cur += this.s[this.i + 1];
        this.i += 2;
      } else {
        cur += c;
        this.i++;
      }
    }
    if (any) out.push(cur);
    return out;
  }

  private single(): string {
    const end = this.s.indexOf("'", this.i + 1);
    if (end < 0) throw invalid(`unterminated single quote in: ${this.s}`);
    const v = this.s.slice(this.i + 1, end);
    this.i = end + 1;
    return v;
  }

  private double(): string {
    let v = '';
    this.i++;
    while (this.i < this.s.length && this.s[this.i] !== '"') {
      const c = this.s[this.i];
      if (c === '$') v += this.dollar();
      else if (c === this.esc && '"$`\\'.includes(this.s[this.i + 1] ?? '') && this.i + 1 < this.s.length) {
        v += this.s[this.i + 1];
        this.i += 2;
      } else {
        v += c;
        this.i++;
      }
    }
    if (this.i >= this.s.length) throw invalid(`unterminated double quote in: ${this.s}`);
    this.i++;
    return v;
  }

  private dollar(): string {
    this.i++;
    if (this.s[this.i] === '{') return this.braced();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i));
    if (!m) return '$';
    this.i += m[0].length;
    return this.vars.get(m[0]) ?? '';
  }

  private braced(): string {
    const end = this.s.indexOf('}', this.i);
    if (end < 0) throw invalid(`missing '}' in: ${this.s}`);
    const body = this.s.slice(this.i + 1, end);
    this.i = end + 1;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])(.*))?$/s.exec(body);
    if (!m) throw invalid(`bad substitution \${${body}} in: ${this.s}`);
    const [, name, op, word = ''] = m;
    const val = this.vars.get(name);
    if (!op) return val ?? '';
    const alt = processWord(word, this.vars, this.esc);
    const set = op.startsWith(':') ? val !== undefined && val !== '' : val !== undefined;
    return op.endsWith('-') ? (set ? val! : alt) : set ? alt : '';
  }
}

/** `k=v k2="v 2"` pairs (ENV, LABEL); the legacy `ENV k v w` form when `legacy` allows it. */
export function keyValues(text: string, vars: Vars, escape: string, what: string, legacy: boolean): Array<[string, string]> {
  const first = /^\s*([^\s=]+)(\s|=|$)/.exec(text);
  if (!first) throw invalid(`${what} needs at least one argument`);
  if (first[2] !== '=') {
    if (!legacy) throw invalid(`${what} needs KEY=VALUE arguments`);
    const rest = text.slice(first[0].length).trim();
    if (!rest) throw invalid(`${what} ${first[1]} needs a value`);
    return [[first[1], processWord(rest, vars, escape)]];
  }
  return processWords(text, vars, escape).map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw invalid(`${what}: "${w}" is not KEY=VALUE`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}
