import { link, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractTo, packPath } from './archive.js';
import { RootDir } from './root-dir.js';

let base: string;
let n = 0;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'hull-archive-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A fresh tree with a host-only directory beside it that nothing may reach. */
async function tree(): Promise<{ root: string; outside: string }> {
  const dir = join(base, `t${n++}`);
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(root, 'etc/passwd'), 'inside\n');
  await writeFile(join(outside, 'passwd'), 'OUTSIDE\n');
  return { root, outside };
}

function tarOf(entries: Array<Partial<tar.Header> & { name: string; data?: string }>): Readable {
  const pack = tar.pack();
  for (const { data, ...h } of entries) pack.entry(h, data ?? '');
  pack.finalize();
  return pack as unknown as Readable;
}

async function names(stream: NodeJS.ReadableStream): Promise<Array<{ name: string; type: string; linkname?: string; uid: number; body: string }>> {
  const ex = tar.extract();
  (stream as Readable).pipe(ex as unknown as NodeJS.WritableStream);
  const out = [];
  for await (const e of ex) {
    let body = '';
    for await (const c of e) body += c.toString();
    out.push({ name: e.header.name, type: e.header.type, linkname: e.header.linkname ?? undefined, uid: e.header.uid, body });
  }
  return out;
}

async function packed(r: RootDir, path: string, o?: Parameters<typeof packPath>[2]) {
  const p = await packPath(r, path, o);
  const got = await names(p.stream);
  await p.done;
  return got;
}

describe('cp walks inside its tree', () => {
  it('resolves symlinks inside the root: absolute targets restart there, .. stops there', async () => {
    const { root, outside } = await tree();
    await symlink('/etc', join(root, 'abs'));
    await symlink('../../../../..', join(root, 'up'));
    await symlink(outside, join(root, 'hostpath'));
    const r = RootDir.open(root);
    try {
      expect((await packed(r, '/abs/passwd')).map((e) => e.body)).toEqual(['inside\n']);
      expect((await packed(r, '/up/etc/passwd')).map((e) => e.body)).toEqual(['inside\n']);
      expect((await packed(r, '/../../etc/passwd')).map((e) => e.body)).toEqual(['inside\n']);
      await expect(packPath(r, '/hostpath/passwd')).rejects.toThrow(/not found/);
      await symlink('loop', join(root, 'loop'));
      await expect(packPath(r, '/loop/x')).rejects.toThrow(/too many levels of symbolic links/);
      // A symlink named last is packed as itself; followed with followLink.
      expect(await packed(r, '/abs')).toMatchObject([{ name: 'abs', type: 'symlink', linkname: '/etc' }]);
      expect((await packed(r, '/abs', { followLink: true }))[0]).toMatchObject({ name: 'abs/', type: 'directory' });
    } finally {
      r.close();
    }
  });

  it('packs a tree with symlinks as links, hard links as links, and mounted files from their source', async () => {
    const { root, outside } = await tree();
    await symlink('/etc/passwd', join(root, 'etc/link'));
    await link(join(root, 'etc/passwd'), join(root, 'etc/hard'));
    await writeFile(join(root, 'etc/hosts'), ''); // the image's placeholder
    await writeFile(join(outside, 'hosts'), '10.0.0.1 box\n');
    const r = RootDir.open(root, [{ destination: '/etc/hosts', source: join(outside, 'hosts'), readonly: false }]);
    try {
      const got = await packed(r, '/etc');
      expect(got.map((e) => [e.name, e.type])).toEqual([
        ['etc/', 'directory'],
        ['etc/hard', 'file'],
        ['etc/hosts', 'file'],
        ['etc/link', 'symlink'],
        ['etc/passwd', 'link'],
      ]);
      expect(got.find((e) => e.name === 'etc/hosts')!.body).toBe('10.0.0.1 box\n');
      expect((await packed(r, '/etc/hosts'))[0].body).toBe('10.0.0.1 box\n');
      expect((await packed(r, '/etc/.')).map((e) => e.name)[0]).toBe('./');
    } finally {
      r.close();
    }
  });

  it('gives owners as a user namespace sees them', async () => {
    const { root } = await tree();
    const r = RootDir.open(root);
    try {
      // The files are the host root's (uid 0): outside a namespace that starts at 100000 they are its overflow id.
      expect((await packed(r, '/etc/passwd', { ids: { hostId: 100000, size: 65536 } }))[0].uid).toBe(65534);
      expect((await packed(r, '/etc/passwd', { ids: { hostId: 0, size: 65536 } }))[0].uid).toBe(0);
    } finally {
      r.close();
    }
  });

  it('extracts inside the tree only: .. entries refused, symlinks in the way not written through', async () => {
    const { root, outside } = await tree();
    await symlink(outside, join(root, 'hostpath'));
    const r = RootDir.open(root);
    try {
      await expect(extractTo(r, tarOf([{ name: '../escape', data: 'x' }]), { dest: '/etc', keepOwners: false })).rejects.toThrow(/leaves the destination/);
      // Through a symlinked destination that points out of the tree: resolved inside it, where nothing is.
      await expect(extractTo(r, tarOf([{ name: 'f', data: 'x' }]), { dest: '/hostpath/', keepOwners: false })).rejects.toThrow(/"\/tmp" not found/);
      await symlink('/etc/nothing', join(root, 'dangling'));
      await expect(extractTo(r, tarOf([{ name: 'f', data: 'x' }]), { dest: '/dangling', keepOwners: false })).rejects.toThrow(/symlink to nothing/);
      // A symlink then a file under it: the file lands where the link points inside the root.
      await extractTo(r, tarOf([{ name: 'd', type: 'directory' }, { name: 'd/l', type: 'symlink', linkname: outside }, { name: 'd/l/passwd', data: 'written\n' }]), { dest: '/', keepOwners: false });
      expect(await readFile(join(outside, 'passwd'), 'utf8')).toBe('OUTSIDE\n');
      expect(await readFile(join(root, outside, 'passwd'), 'utf8')).toBe('written\n');
      // A file onto a symlink replaces the link.
      await symlink(join(outside, 'passwd'), join(root, 'etc/shadow'));
      await extractTo(r, tarOf([{ name: 'shadow', data: 'new\n' }]), { dest: '/etc/', keepOwners: false });
      expect((await lstat(join(root, 'etc/shadow'))).isFile()).toBe(true);
      expect(await readFile(join(outside, 'passwd'), 'utf8')).toBe('OUTSIDE\n');
      expect(await readdir(outside)).toEqual(['passwd']);
    } finally {
      r.close();
    }
  });

  it('never replaces a directory with a non-directory or the other way round', async () => {
    const { root } = await tree();
    const r = RootDir.open(root);
    try {
      await expect(extractTo(r, tarOf([{ name: 'etc', data: 'x' }]), { dest: '/', keepOwners: false })).rejects.toThrow(/cannot overwrite the directory "\/etc"/);
      await expect(extractTo(r, tarOf([{ name: 'passwd', type: 'directory' }]), { dest: '/etc', keepOwners: false })).rejects.toThrow(/cannot overwrite the non-directory "\/etc\/passwd"/);
      expect((await stat(join(root, 'etc'))).isDirectory()).toBe(true);
    } finally {
      r.close();
    }
  });

  it('writes a mounted file in place, keeps modes, times and hard links', async () => {
    const { root, outside } = await tree();
    await writeFile(join(root, 'etc/hosts'), '');
    await writeFile(join(outside, 'hosts'), 'old\n');
    const r = RootDir.open(root, [{ destination: '/etc/hosts', source: join(outside, 'hosts'), readonly: false }]);
    try {
      await extractTo(r, tarOf([{ name: 'h', data: 'new hosts\n' }]), { dest: '/etc/hosts', keepOwners: false });
      expect(await readFile(join(outside, 'hosts'), 'utf8')).toBe('new hosts\n');
      expect(await readFile(join(root, 'etc/hosts'), 'utf8')).toBe('');
      await expect(extractTo(r, tarOf([{ name: 'h', type: 'symlink', linkname: '/x' }]), { dest: '/etc/hosts', keepOwners: false })).rejects.toThrow(/only a file can be copied onto it/);
      const mtime = new Date('2020-01-02T03:04:05Z');
      await extractTo(
        r,
        tarOf([
          { name: 'top', type: 'directory', mode: 0o750, mtime },
          { name: 'top/x', data: 'x\n', mode: 0o4755, mtime },
          { name: 'top/y', type: 'link', linkname: 'top/x' },
        ]),
        { dest: '/renamed', keepOwners: false },
      );
      const x = await stat(join(root, 'renamed/x'));
      expect(x.mode & 0o7777).toBe(0o4755);
      expect((await stat(join(root, 'renamed/y'))).ino).toBe(x.ino);
      expect((await stat(join(root, 'renamed'))).mode & 0o777).toBe(0o750);
      expect((await stat(join(root, 'renamed'))).mtime.toISOString()).toBe(mtime.toISOString());
      const ro = RootDir.open(root, [{ destination: '/etc/hosts', source: join(outside, 'hosts'), readonly: true }]);
      await expect(extractTo(ro, tarOf([{ name: 'h', data: 'x' }]), { dest: '/etc/hosts', keepOwners: false })).rejects.toThrow(/read-only/);
      ro.close();
    } finally {
      r.close();
    }
  });
});
