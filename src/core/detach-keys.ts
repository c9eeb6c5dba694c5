/**
 * Detach keys, as docker writes them: a comma-separated list of keys, each
 * `ctrl-<c>` (c one of a-z @ [ \ ] ^ _) or one plain character. The default
 * is docker's `ctrl-p,ctrl-q`.
 */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

const CTRL_PUNCT: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 };

export function parseDetachKeys(spec: string | undefined): Buffer {
  const text = spec || DEFAULT_DETACH_KEYS;
  return Buffer.from(text.split(',').map((k) => keyCode(k, text)));
}

function keyCode(key: string, spec: string): number {
  const bad = () => new Error(`invalid detach keys "${spec}": "${key}" is not a key (use a character or ctrl-<a-z @ [ \\ ] ^ _>, separated by commas)`);
  if (key.length === 1) return key.charCodeAt(0);
  const m = /^ctrl-(.)$/i.exec(key);
  if (!m) throw bad();
  const c = m[1].toLowerCase();
  if (c >= 'a' && c <= 'z') return c.charCodeAt(0) - 96;
  if (c in CTRL_PUNCT) return CTRL_PUNCT[c];
  throw bad();
}

/**
 * Watches typed input for the detach keys, as docker's escape proxy does:
 * bytes that could start the sequence are held back; when the whole
 * sequence arrives they are dropped and `detach` is set, and when the next
 * byte does not continue it they go on, in order, with the rest.
 */
export class DetachScanner {
  private held = 0;
  constructor(private keys: Buffer) {}

  push(chunk: Buffer): { data: Buffer; detach: boolean } {
    if (!this.held && !chunk.includes(this.keys[0])) return { data: chunk, detach: false };
    const out: number[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== this.keys[this.held]) {
        for (let j = 0; j < this.held; j++) out.push(this.keys[j]);
        this.held = 0;
      }
      if (b === this.keys[this.held]) {
        if (++this.held === this.keys.length) return { data: Buffer.from(out), detach: true };
      } else out.push(b);
    }
    return { data: Buffer.from(out), detach: false };
  }
}
