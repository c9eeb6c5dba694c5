import { show, type Arg, type Command, type Control, type Node, type Pipe } from './ast.js';
import { TemplateError } from './errors.js';
import { checkParam, lookup, type Func, type ParamType } from './funcs.js';
import { isStruct, printValue, sortedKeys, truth, TYPE_NAME, typeName, type GoStruct } from './values.js';

/**
 * Runs a parsed template over data, as Go's text/template/exec.go does:
 * dot, variables ($ is the data), pipelines whose value is passed as the
 * last argument of the next command, fields of structs and keys of maps,
 * methods called with arguments (`.Label "k"`), functions, and
 * if/with/range with else, break and continue. See values.ts for how data
 * stands for Go values.
 */
export interface ExecOptions {
  /** Functions replacing or adding to the standard ones (docker's table headers). */
  funcs?: Record<string, Func>;
}

const NO_FINAL = Symbol('no final value');
type Final = unknown;

class Signal {
  constructor(readonly kind: 'break' | 'continue') {}
}

export function execute(nodes: Node[], data: unknown, src: string, opts: ExecOptions = {}): string {
  return new Exec(src, data, opts).run(nodes);
}

class Exec {
  private out: string[] = [];
  private vars: Array<{ name: string; value: unknown }>;

  constructor(
    private src: string,
    data: unknown,
    private opts: ExecOptions,
  ) {
    this.vars = [{ name: '$', value: data }];
  }

  run(nodes: Node[]): string {
    this.walk(this.vars[0].value, nodes);
    return this.out.join('');
  }

  private fail(node: Arg | Command, msg: string): never {
    const before = this.src.slice(0, node.pos);
    const nl = before.lastIndexOf('\n');
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const col = nl < 0 ? node.pos : node.pos - nl - 1;
    throw new TemplateError(`template: :${line}:${col}: executing "" at <${show(node)}>: ${msg}`, 'exec');
  }

  /** Nodes in order; a break or continue inside a range comes back as a Signal. */
  private walk(dot: unknown, nodes: Node[]): Signal | undefined {
    for (const n of nodes) {
      const sig = this.walkOne(dot, n);
      if (sig) return sig;
    }
    return undefined;
  }

  private walkOne(dot: unknown, n: Node): Signal | undefined {
    switch (n.kind) {
      case 'text':
        this.out.push(n.text);
        return undefined;
      case 'action': {
        const v = this.pipeline(dot, n.pipe);
        if (!n.pipe.decl.length) this.out.push(printValue(v));
        return undefined;
      }
      case 'if':
      case 'with':
        return this.scoped(() => {
          const v = this.pipeline(dot, n.pipe);
          if (truth(v)) return this.walk(n.kind === 'with' ? v : dot, n.list);
          return n.elseList ? this.walk(dot, n.elseList) : undefined;
        });
      case 'range':
        return this.scoped(() => this.range(dot, n));
      case 'break':
      case 'continue':
        return new Signal(n.kind);
    }
  }

  private scoped<T>(fn: () => T): T {
    const mark = this.vars.length;
    try {
      return fn();
    } finally {
      this.vars.length = mark;
    }
  }

  private range(dot: unknown, n: Control): Signal | undefined {
    const v = this.pipeline(dot, n.pipe);
    let any = false;
    for (const [key, elem] of this.iterate(v, n.pipe)) {
      any = true;
      const sig = this.scoped(() => {
        this.setRangeVars(n.pipe, key, elem);
        return this.walk(elem, n.list);
      });
      if (sig?.kind === 'break') break;
    }
    if (!any && n.elseList) return this.walk(dot, n.elseList);
    return undefined;
  }

  /** What range walks: a slice (index, element), a map (key, value; keys sorted), an integer n (0…n-1). */
  private *iterate(v: unknown, pipe: Pipe): Generator<[unknown, unknown]> {
    if (v === undefined || v === null) return;
    if (Array.isArray(v)) yield* v.map((x, i): [unknown, unknown] => [i, x]);
    else if (v instanceof Map) yield* sortedKeys(v).map((k): [unknown, unknown] => [k, v.get(k)]);
    else if (typeof v === 'number' && Number.isInteger(v)) {
      if (pipe.decl.length > 1) this.fail(pipe.cmds[0], `can't use ${v} to iterate over more than one variable`);
      for (let i = 0; i < v; i++) yield [i, i];
    } else this.fail(pipe.cmds[0], `range can't iterate over ${printValue(v)}`);
  }

  /** `$e := range` takes the element; `$i, $e := range` the index (or key) and the element. */
  private setRangeVars(pipe: Pipe, key: unknown, elem: unknown): void {
    if (!pipe.decl.length) return;
    const vals = pipe.decl.length === 2 ? [key, elem] : [elem];
    pipe.decl.forEach((name, i) => this.setVar(name, vals[i], pipe.isAssign));
  }

  private setVar(name: string, value: unknown, assign: boolean): void {
    if (!assign) {
      this.vars.push({ name, value });
      return;
    }
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i].name === name) {
        this.vars[i].value = value;
        return;
      }
    }
  }

  private varValue(node: Arg, name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i].value;
    return this.fail(node, `undefined variable: ${name}`);
  }

  private pipeline(dot: unknown, pipe: Pipe): unknown {
    let value: Final = NO_FINAL;
    for (const cmd of pipe.cmds) value = this.command(dot, cmd, value);
    // A range sets its variables per element; its pipeline only declares them.
    for (const name of pipe.decl) this.setVar(name, value, pipe.isAssign);
    return value;
  }

  private command(dot: unknown, cmd: Command, final: Final): unknown {
    const first = cmd.args[0];
    switch (first.kind) {
      case 'field':
        return this.fieldChain(dot, dot, first, first.idents, cmd.args, final);
      case 'chain':
        return this.fieldChain(dot, this.chainReceiver(dot, first), first, first.idents, cmd.args, final);
      case 'variable':
        return this.variable(dot, first, cmd.args, final);
      case 'identifier':
        return this.call(dot, first.name, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.pipeline(dot, first);
      case 'nil':
        return this.fail(first, 'nil is not a command');
      default:
        this.notAFunction(cmd.args, final);
        return this.literal(dot, first);
    }
  }

  private notAFunction(args: Arg[], final: Final): void {
    if (args.length > 1 || final !== NO_FINAL) this.fail(args[0], `can't give argument to non-function ${show(args[0])}`);
  }

  private literal(dot: unknown, n: Arg): unknown {
    switch (n.kind) {
      case 'dot':
        return dot;
      case 'bool':
      case 'number':
      case 'string':
        return n.value;
      default:
        return null;
    }
  }

  private variable(dot: unknown, n: Extract<Arg, { kind: 'variable' }>, args: Arg[], final: Final): unknown {
    const value = this.varValue(n, n.name);
    if (!n.idents.length) {
      this.notAFunction(args, final);
      return value;
    }
    return this.fieldChain(dot, value, n, n.idents, args, final);
  }

  private chainReceiver(dot: unknown, n: Extract<Arg, { kind: 'chain' }>): unknown {
    if (n.node.kind === 'nil') this.fail(n, `indirection through explicit nil in ${show(n)}`);
    return this.arg(dot, n.node);
  }

  private fieldChain(dot: unknown, receiver: unknown, node: Arg, idents: string[], args: Arg[], final: Final): unknown {
    let r = receiver;
    for (let i = 0; i < idents.length - 1; i++) r = this.field(dot, idents[i], node, [], NO_FINAL, r);
    return this.field(dot, idents[idents.length - 1], node, args, final, r);
  }

  private field(dot: unknown, name: string, node: Arg, args: Arg[], final: Final, receiver: unknown): unknown {
    const hasArgs = args.length > 1 || final !== NO_FINAL;
    if (receiver === undefined) return undefined;
    if (receiver instanceof Map) {
      if (hasArgs) this.fail(node, `${name} is not a method but has arguments`);
      return receiver.get(name);
    }
    if (receiver === null) return this.fail(node, `nil pointer evaluating interface {}.${name}`);
    if (!isStruct(receiver)) return this.fail(node, `can't evaluate field ${name} in type ${typeName(receiver)}`);
    if (!Object.prototype.hasOwnProperty.call(receiver, name)) return this.missingField(node, name, receiver);
    const v = receiver[name];
    if (typeof v === 'function') return this.invoke(dot, name, node, v as Func, args, final);
    if (hasArgs) this.fail(node, `${name} is not a method but has arguments`);
    return v;
  }

  private missingField(node: Arg, name: string, receiver: GoStruct): never {
    const t = receiver[TYPE_NAME];
    return this.fail(node, t ? `can't evaluate field ${name} in type ${t}` : `map has no entry for key "${name}"`);
  }

  /** Evaluate the arguments (each checked against its parameter's type, as Go does), then call. */
  private invoke(dot: unknown, name: string, node: Arg | Command, fn: Func, args: Arg[], final: Final, params: ParamType[] = []): unknown {
    const vals = args.slice(1).map((a, i) => {
      const v = this.arg(dot, a);
      const bad = checkParam(params[i], v);
      if (bad) this.fail(a, bad);
      return v;
    });
    if (final !== NO_FINAL) {
      const bad = checkParam(params[vals.length], final);
      if (bad) this.fail(node, bad);
      vals.push(final);
    }
    try {
      return fn(...vals);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      return this.fail(node, `error calling ${name}: ${(e as Error).message}`);
    }
  }

  /** A function by name; `and` and `or` stop at the first argument that decides, as Go's do. */
  private call(dot: unknown, name: string, cmd: Command, args: Arg[], final: Final): unknown {
    const { fn, params, check } = lookup(name, this.opts.funcs);
    const count = args.length - 1 + (final === NO_FINAL ? 0 : 1);
    const bad = check(count);
    if (bad) this.fail(args[0], bad);
    if (name === 'and' || name === 'or') {
      let v: unknown;
      for (const a of args.slice(1)) {
        v = this.arg(dot, a);
        if (truth(v) === (name === 'or')) return v;
      }
      return final === NO_FINAL ? v : final;
    }
    return this.invoke(dot, name, cmd, fn, args, final, params);
  }

  private arg(dot: unknown, n: Arg): unknown {
    switch (n.kind) {
      case 'field':
        return this.fieldChain(dot, dot, n, n.idents, [n], NO_FINAL);
      case 'variable':
        return this.variable(dot, n, [n], NO_FINAL);
      case 'chain':
        return this.fieldChain(dot, this.chainReceiver(dot, n), n, n.idents, [n], NO_FINAL);
      case 'pipe':
        return this.pipeline(dot, n);
      case 'identifier':
        return this.call(dot, n.name, { kind: 'command', args: [n], pos: n.pos }, [n], NO_FINAL);
      default:
        return this.literal(dot, n);
    }
  }
}
