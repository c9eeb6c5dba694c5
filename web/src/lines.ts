/**
 * Splits a text stream into lines across chunk boundaries (the events and
 * pull streams are newline-delimited JSON). Pure, so it is unit-tested.
 */
export class LineSplitter {
  private rest = '';

  /** The complete lines in `chunk` and what came before it; an unfinished line waits. */
  push(chunk: string): string[] {
    const parts = (this.rest + chunk).split('\n');
    this.rest = parts.pop() ?? '';
    return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)).filter((l) => l.length > 0);
  }

  /** What is left at the end of the stream (a last line without a newline). */
  end(): string[] {
    const last = this.rest.trim();
    this.rest = '';
    return last ? [last] : [];
  }
}

/** Parse each line as JSON; a line that is not JSON is skipped (reported to `bad`). */
export function parseLines<T>(lines: string[], bad?: (line: string) => void): T[] {
  const out: T[] = [];
  for (const line of lines) {
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      bad?.(line);
    }
  }
  return out;
}
