import { describe, expect, it } from 'vitest';
import { checkName, isValidHostname, isValidName, NAME_MAX } from './ids.js';

describe('names', () => {
  it('take 1 to 128 of [a-zA-Z0-9_.-], starting with a letter or digit', () => {
    for (const ok of ['a', 'web-1', 'A.b_c', '0x', 'a'.repeat(NAME_MAX)]) expect(isValidName(ok), ok).toBe(true);
    for (const bad of ['', '-a', '_a', '.a', 'a b', 'a/b', 'é', 'a\n', 'a'.repeat(NAME_MAX + 1)]) expect(isValidName(bad), bad).toBe(false);
  });

  it('are refused saying which rule, the limit included', () => {
    expect(() => checkName('a'.repeat(129), 'network')).toThrow(/^invalid network name "a{40}…": at most 128 characters \(it has 129\)$/);
    expect(() => checkName('-x')).toThrow(/^invalid name "-x": use letters, digits, _ \. - \(start with a letter or digit\)$/);
    expect(() => checkName('a'.repeat(128))).not.toThrow();
  });
});

describe('hostnames (RFC 1123)', () => {
  it('take dot-separated labels of letters, digits and -, 1 to 63 each, 253 in all', () => {
    const label = 'a'.repeat(63);
    for (const ok of ['web', 'Web-1', '1web', 'a.b.c', 'x-y.example.com', label, `${label}.${label}.${label}.${'a'.repeat(61)}`]) expect(isValidHostname(ok), ok).toBe(true);
    const bad = ['', '-a', 'a-', 'a..b', '.a', 'a.', 'a_b', 'a b', 'a\nb', 'a\t', 'é', `${label}a`, `${label}.${label}.${label}.${'a'.repeat(62)}`, '127.0.0.1 evil'];
    for (const b of bad) expect(isValidHostname(b), JSON.stringify(b)).toBe(false);
  });
});
