import { describe, expect, it } from 'vitest';
import { isHullError } from './errors.js';
import { formatSize, parseCpus, parseSignal, parseSize } from './units.js';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

function invalidError(f: () => unknown): Error {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(isHullError(err, 'invalid'), String(err)).toBe(true);
  return err as Error;
}

describe('parseSize', () => {
  it.each([
    ['64m', 64 * MiB],
    ['1g', GiB],
    ['1.5g', 1.5 * GiB],
    ['512k', 512 * KiB],
    ['1048576', 1048576],
    ['100b', 100],
    ['2t', 2 * 1024 ** 4],
    ['64M', 64 * MiB],
    ['64mb', 64 * MiB],
    ['64MiB', 64 * MiB],
    [' 64 m ', 64 * MiB],
    ['0.5k', 512],
  ])('reads %j as %d bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it('rounds a fraction of a byte down', () => {
    expect(parseSize('1.5')).toBe(1);
    expect(parseSize('1.0001k')).toBe(1024);
  });

  it.each(['12x', '-1', '', 'm', '1.5.5g', '1e3', 'abc', '64 mm', '0x10'])('refuses %j as invalid, naming it', (input) => {
    expect(invalidError(() => parseSize(input)).message).toContain(`"${input}"`);
  });

  it.each(['0', '0m', '0.0001k'])('refuses %j: a size must be greater than zero', (input) => {
    expect(invalidError(() => parseSize(input)).message).toMatch(/greater than zero/);
  });
});

describe('formatSize', () => {
  it.each([
    [0, '0B'],
    [1023, '1023B'],
    [1024, '1.00KiB'],
    [1536, '1.50KiB'],
    [64 * MiB, '64.0MiB'],
    [1.5 * GiB, '1.50GiB'],
    [2048 * 1024 ** 4, '2048.0TiB'],
  ])('writes %d as %j', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});

describe('parseSignal', () => {
  it.each([
    ['SIGKILL', 'SIGKILL'],
    ['KILL', 'SIGKILL'],
    ['kill', 'SIGKILL'],
    ['sigterm', 'SIGTERM'],
    ['WINCH', 'SIGWINCH'],
    ['usr1', 'SIGUSR1'],
  ])('reads %j as %j', (input, sig) => {
    expect(parseSignal(input)).toBe(sig);
  });

  it('passes a signal number through', () => {
    expect(parseSignal('9')).toBe('9');
    expect(parseSignal('1')).toBe('1');
    expect(parseSignal('64')).toBe('64');
  });

  it.each(['0', '65', '-9', 'FOO', 'SIG', '', 'SIGKILLX', '9x'])('refuses %j as invalid', (input) => {
    invalidError(() => parseSignal(input));
  });
});

describe('parseCpus', () => {
  it.each([
    ['0.5', 0.5],
    ['2', 2],
    [' 1.25 ', 1.25],
    [3, 3],
  ])('reads %j as %d', (input, n) => {
    expect(parseCpus(input)).toBe(n);
  });

  it.each(['0', '-1', 'abc', '', 'Infinity', 'NaN', 0, -0.5, Number.NaN])('refuses %j as invalid', (input) => {
    invalidError(() => parseCpus(input));
  });
});
