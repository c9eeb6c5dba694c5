import { describe, expect, it } from 'vitest';
import { statOf } from '../../api/docker/path-stat.js';
import { entryName } from '../../storage/archive-repack.js';
import { parseProbe } from './guest-copy.js';

describe('guest copy: what the guest and the client send is checked', () => {
  it('takes a probe answer only in its grammar', () => {
    expect(parseProbe(Buffer.from('dir /data\n'))).toEqual({ kind: 'dir', resolved: '/data' });
    expect(parseProbe(Buffer.from('missing /a b/c\n'))).toEqual({ kind: 'missing', resolved: '/a b/c' });
    expect(parseProbe(Buffer.from('dangling\n'))).toEqual({ kind: 'dangling', resolved: '' });
    for (const bad of ['dir relative', 'file /x\0y', 'owned /x', '', `dir /${'a'.repeat(5000)}`]) expect(() => parseProbe(Buffer.from(bad))).toThrow(/should not/);
  });

  it('renames the top entry, drops `.`, refuses `..` and a second top-level entry', () => {
    expect(entryName('a/b', { from: 'a', to: 'z' })).toBe('z/b');
    expect(entryName('/./x/./y')).toBe('x/y');
    expect(entryName('./')).toBe('.');
    expect(() => entryName('x/../../etc')).toThrow(/leaves the destination/);
    expect(() => entryName('other/f', { from: 'a', to: 'z' })).toThrow(/one top-level entry/);
  });

  it('bounds the path-stat read from a guest tar header', () => {
    const s = statOf({ name: 'x/', type: 'directory', mode: 0o755, size: Number.MAX_VALUE, mtime: new Date(NaN), linkname: 'l'.repeat(10000) } as never);
    expect(s).toEqual({ name: 'x', size: 0, mode: 2 ** 31 + 0o755, mtime: new Date(0).toISOString(), linkTarget: 'l'.repeat(4096) });
  });
});
