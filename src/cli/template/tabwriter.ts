/**
 * Go's text/tabwriter as docker's tables use it (minwidth 10, tabwidth 1,
 * padding 3, padding with spaces, no flags): a cell is text ended by a tab;
 * a column block is a run of lines that have a cell in that column, as wide
 * as its widest cell plus the padding, and at least minwidth. The last cell
 * of a line is not part of a column. Widths count characters.
 */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const out: string[] = [];
  const widths: number[] = [];
  const width = (s: string) => [...s].length;

  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const cells = lines[i];
      out.push(cells.map((c, j) => (j < cells.length - 1 && j < widths.length ? c + ' '.repeat(Math.max(0, widths[j] - width(c))) : c)).join(''));
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let cur = line0; cur < line1; cur++) {
      if (column >= lines[cur].length - 1) continue;
      writeLines(line0, cur);
      line0 = cur;
      let w = minwidth;
      for (; cur < line1 && column < lines[cur].length - 1; cur++) w = Math.max(w, width(lines[cur][column]) + padding);
      widths.push(w);
      format(line0, cur);
      widths.pop();
      line0 = cur;
      cur--;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join('\n');
}
