import { describe, expect, it } from 'vitest';
import { LineSplitter, parseLines } from './lines.js';

describe('LineSplitter', () => {
  it('joins lines cut across chunks and holds back an unfinished one', () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(s.push(':2}\r\n\n{"c":3}')).toEqual(['{"b":2}']);
    expect(s.end()).toEqual(['{"c":3}']);
    expect(s.end()).toEqual([]);
  });

  it('parses JSON lines, skipping and reporting a bad one', () => {
    const bad: string[] = [];
    expect(parseLines(['{"a":1}', 'nope', '[2]'], (l) => bad.push(l))).toEqual([{ a: 1 }, [2]]);
    expect(bad).toEqual(['nope']);
  });
});
