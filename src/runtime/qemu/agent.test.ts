import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './guest.js';

/**
 * The guest agent's request decoder (guest/json.awk), run by the host's
 * busybox as the guest runs it: whatever argv Hull sends as JSON must come out
 * of `eval "set -- $J_exec"` as the same words.
 */
const AWK = join(repoRoot(), 'guest', 'json.awk');

function decode(request: unknown): string[] {
  const script = 'eval "$(printf "%s\\n" "$1" | busybox awk -f "$2")"; [ -n "$J_error" ] && { echo "ERR:$J_error"; exit; }; eval "set -- $J_exec"; printf "%s\\0" "$J_id" "$@"';
  const out = execFileSync('busybox', ['sh', '-c', script, 'sh', JSON.stringify(request), AWK]).toString();
  if (out.startsWith('ERR:')) throw new Error(out.trim());
  return out.split('\0').slice(0, -1);
}

describe('guest agent request decoding (json.awk)', () => {
  it('round-trips awkward argv words', () => {
    const words = [
      'plain',
      'two words',
      "it's",
      '"quoted"',
      'back\\slash',
      'new\nline\ttab\r',
      '$HOME `id` $(id)',
      'ünïcødé 😀 中文',
      '\u0001\u001f control',
      '',
      '-n',
      '}{][,:',
      'x'.repeat(5000),
    ];
    expect(decode({ id: 42, exec: words })).toEqual(['42', ...words]);
  });

  it('skips nested values it does not use and reads the keys after them', () => {
    expect(decode({ id: 7, meta: { a: [1, { b: '}' }], c: 'x"y' }, exec: ['echo', 'ok'] })).toEqual(['7', 'echo', 'ok']);
  });

  it('refuses what is not a request', () => {
    expect(() => decode('not an object')).toThrow(/not a JSON object/);
    expect(() => decode({ id: 1, exec: ['a\u0000b'] })).toThrow(/NUL in a string/);
  });
});
