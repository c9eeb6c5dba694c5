import { type Child, h } from './dom.js';

/**
 * A data table. Each row has data-testid="row-<key>"; a column with a
 * testid marks its cells (e.g. "status"), so tests find a row's cell.
 */
export interface Column<T> {
  title: string;
  cell: (row: T) => Child;
  testid?: string;
  cls?: string;
}

export function dataTable<T>(testid: string, columns: Column<T>[], rows: T[], key: (row: T) => string, empty: string): HTMLElement {
  const head = h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { class: c.cls }, c.title))));
  const body = h('tbody', {}, ...rows.map((r) => h('tr', { testid: `row-${key(r)}` }, ...columns.map((c) => h('td', { testid: c.testid, class: c.cls }, c.cell(r))))));
  if (rows.length === 0) body.append(h('tr', { class: 'empty' }, h('td', { colspan: columns.length, testid: 'empty' }, empty)));
  return h('table', { class: 'data', testid }, head, body);
}
