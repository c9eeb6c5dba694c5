import type { Arg, Command, Node, Pipe } from './ast.js';
import { TemplateError } from './errors.js';
import { lex, type Token } from './lexer.js';

/**
 * Go's text/template parser (text/template/parse), for the part docker
 * users write: actions, pipelines, parenthesized pipelines, variables,
 * if/else if/with/range/else/end, break and continue. `define`, `template`
 * and `block` are refused. Functions must be known at parse time, as in Go.
 */
export function parse(src: string, funcs: ReadonlySet<string>): Node[] {
  return new Parser(src, lex(src), funcs).parse();
}

type Stop = 'end' | 'else' | 'eof';

class Parser {
  private i = 0;
  /** Declared variables, innermost last; `$` is always there. */
  private vars: string[] = ['$'];
  private rangeDepth = 0;

  constructor(
    private src: string,
    private tokens: Token[],
    private funcs: ReadonlySet<string>,
  ) {}

  parse(): Node[] {
    const [list, stop] = this.itemList();
    if (stop !== 'eof') this.fail(`unexpected {{${stop}}}`, this.peek().pos);
    return list;
  }

  private fail(msg: string, pos: number): never {
    const line = 1 + (this.src.slice(0, pos).match(/\n/g)?.length ?? 0);
    throw new TemplateError(`template: :${line}: ${msg}`);
  }

  /** The current token; past the end, the eof token again. */
  private peek(): Token {
    return this.tokens[Math.min(this.i, this.tokens.length - 1)];
  }

  private next(): Token {
    const t = this.peek();
    this.i++;
    return t;
  }

  private peekNonSpace(): Token {
    while (this.peek().type === 'space') this.i++;
    return this.peek();
  }

  private nextNonSpace(): Token {
    this.peekNonSpace();
    return this.next();
  }

  private expect(type: Token['type'], context: string): Token {
    const t = this.nextNonSpace();
    if (t.type !== type) this.unexpected(t, context);
    return t;
  }

  private unexpected(t: Token, context: string): never {
    const what = t.type === 'eof' ? 'EOF' : t.type === 'rightDelim' ? '"}}"' : t.type === 'string' ? 'quoted string' : JSON.stringify(t.value);
    this.fail(`unexpected ${what} in ${context}`, t.pos);
  }

  /** Nodes up to `{{end}}`, `{{else…` or the end of the source. */
  private itemList(): [Node[], Stop] {
    const list: Node[] = [];
    for (;;) {
      const t = this.next();
      if (t.type === 'eof') return [list, 'eof'];
      if (t.type === 'text') {
        list.push({ kind: 'text', text: t.value, pos: t.pos });
        continue;
      }
      const k = this.peekNonSpace();
      if (k.type === 'keyword' && (k.value === 'end' || k.value === 'else')) {
        this.next();
        if (k.value === 'end') this.expect('rightDelim', 'end');
        else {
          const after = this.peekNonSpace();
          if (!(after.type === 'keyword' && (after.value === 'if' || after.value === 'with'))) this.expect('rightDelim', 'else');
        }
        return [list, k.value];
      }
      list.push(this.action());
    }
  }

  private action(): Node {
    const t = this.peekNonSpace();
    if (t.type === 'keyword') {
      this.next();
      switch (t.value) {
        case 'if':
        case 'with':
        case 'range':
          return this.control(t.value, t.pos);
        case 'break':
        case 'continue':
          if (this.rangeDepth === 0) this.fail(`{{${t.value}}} outside {{range}}`, t.pos);
          this.expect('rightDelim', t.value);
          return { kind: t.value, pos: t.pos };
        default:
          this.fail(`{{${t.value}}} is not supported in --format templates`, t.pos);
      }
    }
    return { kind: 'action', pipe: this.pipeline('command', 'rightDelim'), pos: t.pos };
  }

  private control(kind: 'if' | 'with' | 'range', pos: number): Node {
    const mark = this.vars.length;
    const pipe = this.pipeline(kind, 'rightDelim');
    if (kind === 'range') this.rangeDepth++;
    const [list, stop] = this.itemList();
    if (kind === 'range') this.rangeDepth--;
    let elseList: Node[] | undefined;
    if (stop === 'else') {
      const k = this.peek();
      if ((kind === 'if' || kind === 'with') && k.type === 'keyword' && k.value === kind) {
        // `{{else if …}}`: a nested if in the else branch, ended by the same {{end}}.
        this.next();
        elseList = [this.control(kind, k.pos)];
      } else {
        let s: Stop;
        [elseList, s] = this.itemList();
        if (s !== 'end') this.fail(`expected end; found ${s === 'eof' ? 'EOF' : `{{${s}}}`}`, this.peek().pos);
      }
    } else if (stop !== 'end') this.fail(`unexpected EOF`, this.peek().pos);
    this.vars.length = mark;
    return { kind, pipe, list, elseList, pos };
  }

  private pipeline(context: string, end: 'rightDelim' | 'rightParen'): Pipe {
    const start = this.peekNonSpace();
    const pipe: Pipe = { kind: 'pipe', decl: [], isAssign: false, cmds: [], pos: start.pos };
    this.declarations(pipe, context);
    for (;;) {
      const t = this.peekNonSpace();
      if (t.type === end) {
        this.next();
        if (!pipe.cmds.length) this.fail(`missing value for ${context}`, t.pos);
        this.checkPipeline(pipe, context);
        return pipe;
      }
      if (['bool', 'char', 'dot', 'field', 'identifier', 'number', 'nil', 'variable', 'string', 'leftParen'].includes(t.type)) {
        pipe.cmds.push(this.command());
        continue;
      }
      this.unexpected(t, context);
    }
  }

  /** `$x :=`, `$x =`, and in a range `$i, $e :=`. */
  private declarations(pipe: Pipe, context: string): void {
    const v = this.peek();
    if (v.type !== 'variable') return;
    const save = this.i;
    this.next();
    const op = this.peekNonSpace();
    if (op.type === 'declare' || op.type === 'assign') {
      this.next();
      pipe.isAssign = op.type === 'assign';
      if (pipe.isAssign && !this.vars.includes(v.value)) this.fail(`undefined variable "${v.value}"`, v.pos);
      pipe.decl.push(v.value);
      if (!pipe.isAssign) this.vars.push(v.value);
      return;
    }
    if (op.type === 'comma' && context === 'range') {
      this.next();
      const second = this.expect('variable', 'range');
      const d = this.nextNonSpace();
      if (d.type !== 'declare' && d.type !== 'assign') this.unexpected(d, 'range');
      pipe.isAssign = d.type === 'assign';
      pipe.decl.push(v.value, second.value);
      if (!pipe.isAssign) this.vars.push(v.value, second.value);
      return;
    }
    this.i = save;
  }

  /** Go refuses a literal after the first stage (`{{1 | 2}}`) and declarations outside range of more than one variable. */
  private checkPipeline(pipe: Pipe, context: string): void {
    pipe.cmds.slice(1).forEach((c, n) => {
      if (['bool', 'dot', 'nil', 'number', 'string'].includes(c.args[0].kind)) this.fail(`non executable command in pipeline stage ${n + 2}`, c.pos);
    });
    if (pipe.decl.length > 1 && context !== 'range') this.fail('too many declarations', pipe.pos);
  }

  private command(): Command {
    const cmd: Command = { kind: 'command', args: [], pos: this.peekNonSpace().pos };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const t = this.peek();
      if (t.type === 'space') {
        this.next();
        continue;
      }
      if (t.type === 'rightDelim' || t.type === 'rightParen') break;
      if (t.type === 'pipe') {
        this.next();
        break;
      }
      this.unexpected(t, 'operand');
    }
    if (!cmd.args.length) this.fail('empty command', cmd.pos);
    return cmd;
  }

  /** A term and the fields after it: `.A.B`, `$x.A`, `(pipe).A`. */
  private operand(): Arg | undefined {
    const node = this.term();
    if (!node || this.peek().type !== 'field') return node;
    const pos = this.peek().pos;
    const idents: string[] = [];
    while (this.peek().type === 'field') idents.push(this.next().value.slice(1));
    if (node.kind === 'field') return { kind: 'field', idents: [...node.idents, ...idents], pos };
    if (node.kind === 'variable') return { kind: 'variable', name: node.name, idents: [...node.idents, ...idents], pos };
    if (['bool', 'string', 'number', 'nil', 'dot'].includes(node.kind)) this.fail(`unexpected . after term ${JSON.stringify(this.src.slice(node.pos, pos))}`, pos);
    return { kind: 'chain', node, idents, pos };
  }

  private term(): Arg | undefined {
    const t = this.nextNonSpace();
    switch (t.type) {
      case 'identifier':
        if (!this.funcs.has(t.value)) this.fail(`function "${t.value}" not defined`, t.pos);
        return { kind: 'identifier', name: t.value, pos: t.pos };
      case 'dot':
        return { kind: 'dot', pos: t.pos };
      case 'nil':
        return { kind: 'nil', pos: t.pos };
      case 'variable':
        if (!this.vars.includes(t.value)) this.fail(`undefined variable "${t.value}"`, t.pos);
        return { kind: 'variable', name: t.value, idents: [], pos: t.pos };
      case 'field':
        return { kind: 'field', idents: [t.value.slice(1)], pos: t.pos };
      case 'bool':
        return { kind: 'bool', value: t.value === 'true', pos: t.pos };
      case 'char':
        return { kind: 'number', value: Number(t.value), isInt: true, text: t.value, pos: t.pos };
      case 'number':
        return numberNode(t, (m) => this.fail(m, t.pos));
      case 'string':
        return { kind: 'string', value: t.value, pos: t.pos };
      case 'leftParen':
        return this.pipeline('parenthesized pipeline', 'rightParen');
      default:
        this.i--;
        return undefined;
    }
  }
}

function numberNode(t: Token, fail: (m: string) => never): Arg {
  const text = t.value.replace(/_/g, '');
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.replace(/^[-+]/, '');
  let value: number;
  let isInt = true;
  if (/^0[xX]/.test(body)) value = parseInt(body.slice(2), 16);
  else if (/^0[oO]/.test(body)) value = parseInt(body.slice(2), 8);
  else if (/^0[bB]/.test(body)) value = parseInt(body.slice(2), 2);
  else if (/^0[0-7]+$/.test(body)) value = parseInt(body, 8);
  else {
    value = Number(body);
    isInt = /^\d+$/.test(body) || (Number.isInteger(value) && /e/i.test(body) && !body.includes('.'));
  }
  if (!Number.isFinite(value)) fail(`illegal number syntax: "${t.value}"`);
  return { kind: 'number', value: sign * value, isInt, text: t.value, pos: t.pos };
}
