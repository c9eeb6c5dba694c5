import { describe, expect, it } from 'vitest';
import { DetachScanner, parseDetachKeys } from './detach-keys.js';

describe('detach keys', () => {
  it('parses docker’s notation', () => {
    expect([...parseDetachKeys(undefined)]).toEqual([16, 17]);
    expect([...parseDetachKeys('')]).toEqual([16, 17]);
    expect([...parseDetachKeys('ctrl-a,x')]).toEqual([1, 120]);
    expect([...parseDetachKeys('ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_,CTRL-Z')]).toEqual([0, 27, 28, 29, 30, 31, 26]);
    for (const bad of ['ctrl-1', 'ctrl-', 'ab', 'ctrl-p,,ctrl-q', 'alt-x']) expect(() => parseDetachKeys(bad)).toThrow(/invalid detach keys/);
  });

  it('holds back a possible start, detaches on the whole sequence, releases on a mismatch', () => {
    const s = new DetachScanner(parseDetachKeys('ctrl-p,ctrl-q'));
    expect(s.push(Buffer.from('abc'))).toEqual({ data: Buffer.from('abc'), detach: false });
    expect(s.push(Buffer.from('x\x10'))).toEqual({ data: Buffer.from('x'), detach: false });
    expect(s.push(Buffer.from('y'))).toEqual({ data: Buffer.from('\x10y'), detach: false });
    expect(s.push(Buffer.from('\x10\x10'))).toEqual({ data: Buffer.from('\x10'), detach: false });
    expect(s.push(Buffer.from('\x11rest'))).toEqual({ data: Buffer.alloc(0), detach: true });
  });

  it('detaches on a sequence split across chunks, keeping what came before it', () => {
    const s = new DetachScanner(Buffer.from([1, 2, 3]));
    expect(s.push(Buffer.from([9, 1]))).toEqual({ data: Buffer.from([9]), detach: false });
    expect(s.push(Buffer.from([2]))).toEqual({ data: Buffer.alloc(0), detach: false });
    expect(s.push(Buffer.from([3]))).toEqual({ data: Buffer.alloc(0), detach: true });
  });
});
