/**
 * The parse tree of a Go text/template, with Go's node kinds. `show` prints
 * a node back as Go's `String()` does: error messages quote it
 * (`executing "" at <.State.Foo>`).
 */
export interface Pos {
  pos: number;
}

export type Arg =
  | ({ kind: 'field'; idents: string[] } & Pos)
  | ({ kind: 'variable'; name: string; idents: string[] } & Pos)
  | ({ kind: 'dot' } & Pos)
  | ({ kind: 'nil' } & Pos)
  | ({ kind: 'bool'; value: boolean } & Pos)
  | ({ kind: 'number'; value: number; isInt: boolean; text: string } & Pos)
  | ({ kind: 'string'; value: string } & Pos)
  | ({ kind: 'identifier'; name: string } & Pos)
  | ({ kind: 'chain'; node: Arg; idents: string[] } & Pos)
  | Pipe;

export interface Command extends Pos {
  kind: 'command';
  args: Arg[];
}

export interface Pipe extends Pos {
  kind: 'pipe';
  decl: string[];
  isAssign: boolean;
  cmds: Command[];
}

export interface Control extends Pos {
  kind: 'if' | 'with' | 'range';
  pipe: Pipe;
  list: Node[];
  elseList?: Node[];
}

export type Node = ({ kind: 'text'; text: string } & Pos) | ({ kind: 'action'; pipe: Pipe } & Pos) | Control | ({ kind: 'break' | 'continue' } & Pos);

export function show(n: Arg | Command): string {
  switch (n.kind) {
    case 'field':
      return `.${n.idents.join('.')}`;
    case 'variable':
      return [n.name, ...n.idents].join('.');
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(n.value);
    case 'number':
      return n.text;
    case 'string':
      return JSON.stringify(n.value);
    case 'identifier':
      return n.name;
    case 'chain':
      return `${n.node.kind === 'pipe' ? `(${show(n.node)})` : show(n.node)}.${n.idents.join('.')}`;
    case 'command':
      return n.args.map((a) => (a.kind === 'pipe' ? `(${show(a)})` : show(a))).join(' ');
    case 'pipe': {
      const decl = n.decl.length ? `${n.decl.join(', ')} ${n.isAssign ? '=' : ':='} ` : '';
      return decl + n.cmds.map(show).join(' | ');
    }
  }
}
