import type { Node } from './ast.js';
import { TemplateError } from './errors.js';
import { execute, type ExecOptions } from './exec.js';
import { FUNC_NAMES, HEADER_FUNCS } from './funcs.js';
import { parse } from './parser.js';
import { tabwrite } from './tabwriter.js';
import { goMap } from './values.js';

export { TemplateError } from './errors.js';
export { goMap, struct, toJson, withJson } from './values.js';

/**
 * A Go text/template, parsed once and run over each item: what docker's
 * `--format` takes. Parse errors throw at construction, run errors at
 * `execute`; both are TemplateErrors with Go's message.
 *
 *   new Template('{{.Name}} {{json .Config.Labels}}').execute(view)
 */
export class Template {
  private nodes: Node[];
  constructor(readonly src: string) {
    this.nodes = parse(src, FUNC_NAMES);
  }

  execute(data: unknown, opts: ExecOptions = {}): string {
    return execute(this.nodes, data, this.src, opts);
  }
}

/**
 * docker's list formatting (cli/command/formatter): `table …` drops the word,
 * turns `\t` and `\n` written out into tabs and newlines, prints a header row
 * (each field its column name) and aligns the columns; any other template is
 * run once per row. Each row ends with a newline.
 */
export function formatList(format: string, rows: unknown[], headers: Record<string, string>): string {
  const isTable = format.startsWith('table');
  const src = (isTable ? format.slice(5) : format).replace(/^ +| +$/g, '').replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const tpl = new Template(src);
  const body = rows.map((r) => `${tpl.execute(r)}\n`).join('');
  if (!isTable) return body;
  let header: string;
  try {
    header = tpl.execute(goMap(headers), { funcs: HEADER_FUNCS });
  } catch {
    header = ''; // docker ignores a header that does not render
  }
  return tabwrite(`${header}\n${body}`);
}

/**
 * docker's inspect with a template: each object on its own line. A field a
 * struct lacks is an error; a key a map lacks is `<no value>`, as docker's
 * typed inspect does (its raw fallback is for fields docker's types lack).
 */
export function formatInspect(format: string, items: unknown[]): string {
  const tpl = new Template(format);
  return items.map((i) => `${tpl.execute(i)}\n`).join('');
}

export const isTemplateError = (e: unknown): e is TemplateError => e instanceof TemplateError;
