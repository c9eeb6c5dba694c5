import { LineCounter, isMap, isNode, isScalar, parseDocument, type Document } from 'yaml';
import { HullError } from '../../core/errors.js';

export type Path = Array<string | number>;

/**
 * A Compose file read with positions kept, so that every error can name the
 * file, the line and the field. YAML's anchors and merge keys work as in
 * Compose; an alias bomb is cut off by the parser's alias limit.
 */
export class ComposeSource {
  private constructor(
    readonly file: string,
    readonly value: unknown,
    private doc: Document,
    private lines: LineCounter,
  ) {}

  static parse(file: string, text: string): ComposeSource {
    if (text.length > 4 * 1024 * 1024) throw new HullError('invalid', `${file}: larger than 4 MiB: not a Compose file`);
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, merge: true, uniqueKeys: true, prettyErrors: false });
    const err = doc.errors[0];
    if (err) {
      const { line, col } = lines.linePos(err.pos[0]);
      throw new HullError('invalid', `${file}:${line}:${col}: ${firstLine(err.message)}`);
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      throw new HullError('invalid', `${file}: ${firstLine((e as Error).message)}`);
    }
    return new ComposeSource(file, value, doc, lines);
  }

  /** `file:line:col` of the deepest node on `path` that exists in the file (of the key itself for `atKey`). */
  where(path: Path, atKey = false): string {
    if (atKey && path.length) {
      const parent = this.doc.getIn(path.slice(0, -1), true);
      const pair = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]) : undefined;
      if (pair && isNode(pair.key) && pair.key.range) return this.at(pair.key.range[0]);
    }
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return this.at(node.range[0]);
    }
    return this.file;
  }

  private at(offset: number): string {
    const { line, col } = this.lines.linePos(offset);
    return `${this.file}:${line}:${col}`;
  }

  /** An error about one field: `shop.yaml:12:7: services.web.deploy.replicas: why`. */
  error(path: Path, why: string, atKey = false): HullError {
    return new HullError('invalid', `${this.where(path, atKey)}: ${formatPath(path) || '(top level)'}: ${why}`);
  }
}

export function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

const firstLine = (s: string) => s.split('\n')[0];
