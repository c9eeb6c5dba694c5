import { humanAgo, humanDuration } from '../core/human.js';
import { formatInspect, formatList, Template, TemplateError } from './template/index.js';

/**
 * Output helpers. Every listing verb takes `--format`: nothing or `table`
 * (the default table), `json` (Hull's own JSON), `table TEMPLATE` or a Go
 * template run per row over docker's formatter fields. Every inspecting verb
 * takes `json` (the default) or a template over docker's document plus
 * Hull's record. A template that fails exits as docker's does.
 */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] + 3)))
      .join('')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

/** `3 minutes ago`, `About a minute ago`: docker's (go-units) wording. */
export function ago(iso: string): string {
  return iso ? humanAgo(iso) : '';
}

/** `2 minutes`, `About an hour`: how long since `iso`. */
export function duration(iso: string): string {
  return humanDuration(Math.max(0, Date.now() - Date.parse(iso)));
}

/** A template failed: docker's wording after `Error: `; its exit code (64 when an inspect template does not parse). */
export class FormatError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface ListOutput<T> {
  format?: string;
  /** Hull's JSON, for `--format json`. */
  items: T[];
  /** The template data for each row. */
  rows: () => unknown[];
  headers: Record<string, string>;
  /** The default table, as a `table` template. */
  table: string;
}

/** A listing verb's output, by its --format. */
export function printList<T>(o: ListOutput<T>): void {
  if (o.format === 'json') return printJson(o.items);
  process.stdout.write(renderList(o));
}

/** The rows through a table or template format; a template that fails is a FormatError with docker's words. */
export function renderList<T>(o: ListOutput<T>): string {
  const format = !o.format || o.format === 'table' ? o.table : o.format;
  try {
    return formatList(format, o.rows(), o.headers);
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
    throw new FormatError(`${e.phase === 'parse' ? 'failed to parse template' : 'failed to execute template'}: ${e.message}`, 1);
  }
}

/** A template for a stream (events): parsed now, so a bad one fails before anything is read. */
export function streamTemplate(format: string): Template {
  try {
    return new Template(format);
  } catch (e) {
    if (e instanceof TemplateError) throw new FormatError(`failed to parse template: ${e.message}`, 1);
    throw e;
  }
}

/** Check an inspect template before anything is fetched: docker exits 64 on one that does not parse. */
export function checkInspectFormat(format: string | undefined): void {
  if (!format || format === 'json') return;
  try {
    new Template(format);
  } catch (e) {
    if (e instanceof TemplateError) throw new FormatError(`template parsing error: ${e.message}`, 64);
    throw e;
  }
}

/** One inspected object, by its --format: appended to `json` (printed at the end) or printed through the template. */
export function inspectOne(format: string | undefined, hull: unknown, data: () => unknown, json: unknown[]): void {
  if (!format || format === 'json') {
    json.push(hull);
    return;
  }
  process.stdout.write(renderInspect(format, data()));
}

/** One object through an inspect template (checked already); a failure is an Error with docker's words. */
export function renderInspect(format: string, data: unknown): string {
  try {
    return formatInspect(format, [data]);
  } catch (e) {
    if (e instanceof TemplateError) throw new Error(`template parsing error: ${e.message}`);
    throw e;
  }
}
