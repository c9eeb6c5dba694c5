import { describe, expect, it } from 'vitest';
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag, parseVolumesFrom } from './mount-spec.js';
import { checkTarget, checkVolumeName } from './volume.js';

describe('-v', () => {
  it('names a volume, binds a host path, or makes an anonymous volume', () => {
    expect(parseVolumeFlag('pgdata:/var/lib/data')).toEqual({ type: 'volume', source: 'pgdata', target: '/var/lib/data', readOnly: false });
    expect(parseVolumeFlag('/srv/site:/www:ro')).toEqual({ type: 'bind', source: '/srv/site', target: '/www', readOnly: true, createHostPath: true });
    expect(parseVolumeFlag('/data')).toEqual({ type: 'volume', source: '', target: '/data', readOnly: false });
    expect(parseVolumeFlag('v:/d:ro,nocopy')).toMatchObject({ readOnly: true, noCopy: true });
    expect(parseVolumeFlag('/h:/d:rw,z,rslave')).toMatchObject({ readOnly: false, propagation: 'rslave' });
    expect(parseVolumeFlag('./site:/www', '/home/u')).toMatchObject({ type: 'bind', source: '/home/u/site' });
    expect(parseVolumeFlag('../x:/www', '/home/u')).toMatchObject({ source: '/home/x' });
  });
  it('refuses what docker refuses', () => {
    expect(() => parseVolumeFlag('a:b:c:d')).toThrow(/use NAME/);
    expect(() => parseVolumeFlag('v:/d:bogus')).toThrow(/unknown option "bogus"/);
    expect(() => parseVolumeFlag('/h:/d:nocopy')).toThrow(/nocopy is for volumes/);
    expect(() => parseVolumeFlag('v\0x:/d')).toThrow(/NUL/);
  });
});

describe('--mount', () => {
  it("takes docker's keys", () => {
    expect(parseMountFlag('type=volume,source=data2,target=/data')).toEqual({ type: 'volume', source: 'data2', target: '/data', readOnly: false });
    expect(parseMountFlag('type=bind,src=/h,dst=/d,readonly')).toEqual({ type: 'bind', source: '/h', target: '/d', readOnly: true });
    expect(parseMountFlag('type=tmpfs,target=/scratch,tmpfs-size=64m,tmpfs-mode=1770')).toEqual({ type: 'tmpfs', source: '', target: '/scratch', readOnly: false, tmpfsSize: 64 * 1024 * 1024, tmpfsMode: 0o1770 });
    expect(parseMountFlag('target=/d,volume-nocopy,volume-opt=type=tmpfs,volume-opt=o=size=1m')).toMatchObject({ type: 'volume', source: '', noCopy: true, volumeOptions: { type: 'tmpfs', o: 'size=1m' } });
    expect(parseMountFlag('type=bind,source=/h,target=/d,readonly=false,bind-propagation=rshared')).toMatchObject({ readOnly: false, propagation: 'rshared' });
  });
  it('refuses unknown keys, a bind without a source, keys of another type', () => {
    expect(() => parseMountFlag('type=bind,target=/d')).toThrow(/needs a source/);
    expect(() => parseMountFlag('type=volume,target=/d,tmpfs-size=1m')).toThrow(/is for type=tmpfs/);
    expect(() => parseMountFlag('type=nfs,target=/d')).toThrow(/type must be/);
    expect(() => parseMountFlag('source=x')).toThrow(/target is required/);
    expect(() => parseMountFlag('target=/a,target=/b')).toThrow(/twice/);
    expect(() => parseMountFlag('target=/a,colour=red')).toThrow(/unknown key "colour"/);
  });
});

describe('--tmpfs and --volumes-from', () => {
  it('parse', () => {
    expect(parseTmpfsFlag('/run:size=1m,mode=755')).toEqual({ type: 'tmpfs', source: '', target: '/run', readOnly: false, tmpfsSize: 1024 * 1024, tmpfsMode: 0o755 });
    expect(parseVolumesFrom('db:ro')).toEqual({ container: 'db', mode: 'ro' });
    expect(() => parseVolumesFrom('db:rx')).toThrow(/CONTAINER/);
  });
});

describe('names and targets', () => {
  it('refuses a volume name with /, .., NUL, or a leading dot', () => {
    for (const bad of ['a/b', '..', 'a..b', 'x\0y', '.hidden', '', '-x', 'a'.repeat(129)]) expect(() => checkVolumeName(bad), bad).toThrow(/invalid volume name/);
    for (const good of ['pgdata', 'a', 'data_2.v-1']) expect(() => checkVolumeName(good)).not.toThrow();
  });
  it('refuses a relative target, /, .. and NUL; tidies the rest', () => {
    expect(checkTarget('/a//b/./c/')).toBe('/a/b/c');
    expect(() => checkTarget('rel')).toThrow(/absolute/);
    expect(() => checkTarget('/')).toThrow(/root/);
    expect(() => checkTarget('/a/../etc')).toThrow(/'\.\.'/);
    expect(() => checkTarget('/a\0')).toThrow(/NUL/);
  });
});
