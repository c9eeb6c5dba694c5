import { describe, expect, it } from 'vitest';
import { destSpec, place, sourceSpec } from './cp-rules.js';

const missing = { exists: false, isDir: false, dangling: false, name: 'new' };
const dir = { exists: true, isDir: true, dangling: false, name: 'd' };
const file = { exists: true, isDir: false, dangling: false, name: 'f' };

describe('docker cp path rules', () => {
  it('names the top entry of a source as docker does', () => {
    expect(sourceSpec('/a/b')).toMatchObject({ top: 'b', followLast: false, mustBeDir: false });
    expect(sourceSpec('/a/b/')).toMatchObject({ top: 'b', followLast: true, mustBeDir: true });
    expect(sourceSpec('/a/b/.')).toMatchObject({ top: '.', mustBeDir: true });
    expect(sourceSpec('.')).toMatchObject({ top: '.' });
    expect(sourceSpec('/')).toMatchObject({ top: '.' });
    expect(sourceSpec('/a/..').top).toBe(''); // the name it resolves to
    expect(sourceSpec('/a/link', true).followLast).toBe(true);
    expect(() => sourceSpec('')).toThrow(/empty/);
  });

  it('reads what a trailing / or /. says about a destination', () => {
    expect(destSpec('/x')).toEqual({ path: '/x', wantsDir: false, mustExist: false });
    expect(destSpec('/x/')).toEqual({ path: '/x/', wantsDir: true, mustExist: false });
    expect(destSpec('/x/.')).toEqual({ path: '/x/.', wantsDir: true, mustExist: true });
  });

  it('places a copy into a directory, onto a file, or as a new name', () => {
    expect(place(destSpec('/d'), dir, false)).toEqual({ into: 'dest' });
    expect(place(destSpec('/d/'), dir, true)).toEqual({ into: 'dest' });
    expect(place(destSpec('/f'), file, false)).toEqual({ into: 'parent', rename: 'f' });
    expect(place(destSpec('/new'), missing, false)).toEqual({ into: 'parent', rename: 'new' });
    expect(place(destSpec('/new'), missing, true)).toEqual({ into: 'parent', rename: 'new' });
    expect(place(destSpec('/new/'), missing, true)).toEqual({ into: 'parent', rename: 'new' });
  });

  it('refuses what docker refuses', () => {
    expect(() => place(destSpec('/f'), file, true)).toThrow(/cannot copy a directory onto the file "\/f"/);
    expect(() => place(destSpec('/f/'), file, false)).toThrow(/"\/f\/" is not a directory/);
    expect(() => place(destSpec('/new/'), missing, false)).toThrow(/destination directory "\/new\/" not found/);
    expect(() => place(destSpec('/new/.'), missing, true)).toThrow(/not found/);
    expect(() => place(destSpec('/link'), { ...missing, dangling: true }, false)).toThrow(/symlink to nothing/);
  });
});
