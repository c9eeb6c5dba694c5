import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isHullError } from '../../core/errors.js';
import { sha256 } from '../content/digest.js';
import { type PackEntry, packTar } from '../tar-pack.js';
import { unpackLayer } from './unpack-layer.js';

/**
 * Property test of the layer unpacker: archives generated from random
 * sequences of entries (names with `..`, `.`, absolute prefixes and long
 * components; symlinks pointing anywhere and then written through; hard
 * links; directories and files replacing each other; whiteouts) either
 * unpack or fail with HullError 'invalid' / 'resource'. Either way nothing
 * outside the layer dir changes (a sentinel tree beside it and canaries at
 * the tmpdir level are snapshotted before and after), and on success every
 * regular file is really inside the layer and shares no inode with the
 * sentinel. Fixed seed (HULL_FUZZ_SEED overrides); fast-check prints the
 * seed and the shrunk counterexample on failure.
 */
const SEED = Number(process.env.HULL_FUZZ_SEED ?? 20261201);
const RUNS = Number(process.env.HULL_FUZZ_RUNS ?? 200);
const MTIME = new Date('2020-01-01T00:00:00Z');
const SEGMENTS = ['a', 'b', 'l', 'etc', 'n'.repeat(200), 'm'.repeat(256)];

let T: string; // temp root: sentinel/, work/<layer>, blob
let canary: string; // a file at the tmpdir level
let sentinelInodes: Set<number>;
beforeAll(async () => {
  T = await mkdtemp(join(tmpdir(), 'hull-fuzz-'));
  canary = join(tmpdir(), `hull-fuzz-canary-${process.pid}`);
  await writeFile(canary, 'canary');
  await mkdir(join(T, 'sentinel', 'a'), { recursive: true });
  await writeFile(join(T, 'sentinel', 'a', 'file'), 'sentinel');
  await writeFile(join(T, 'sentinel', 'etc'), 'sentinel etc');
  await symlink('a/file', join(T, 'sentinel', 'l'));
  await mkdir(join(T, 'work'));
  await writeFile(join(T, 'blob'), '');
  sentinelInodes = new Set([...(await snapshot(join(T, 'sentinel'))).values()].map((s) => Number(s.split(' ')[0])));
});
afterAll(async () => {
  await rm(T, { recursive: true, force: true });
  await rm(canary, { force: true });
});

/** "ino type mode uid:gid size mtime nlink target|sha" of one path, not following a link. */
async function describe(p: string): Promise<string> {
  const st = await lstat(p);
  const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : 'o';
  const extra = kind === 'l' ? await readlink(p) : kind === 'f' ? createHash('sha256').update(await readFile(p)).digest('hex') : '';
  return `${st.ino} ${kind} ${st.mode} ${st.uid}:${st.gid} ${st.size} ${st.mtimeMs} ${st.nlink} ${extra}`;
}

/** Relative path → describe() for every entry under dir. */
async function snapshot(dir: string, into = new Map<string, string>(), rel = ''): Promise<Map<string, string>> {
  for (const name of (await readdir(dir)).sort()) {
    const d = await describe(join(dir, name));
    into.set(`${rel}${name}`, d);
    if (d.split(' ')[1] === 'd') await snapshot(join(dir, name), into, `${rel}${name}/`);
  }
  return into;
}

/** Everything outside the layer dir that an escape could touch. */
async function outside(): Promise<object> {
  const tmpTop = (await readdir(tmpdir())).filter((n) => SEGMENTS.includes(n)).sort();
  return {
    sentinel: [...(await snapshot(join(T, 'sentinel')))],
    top: (await readdir(T)).sort(),
    work: (await readdir(join(T, 'work'))).sort(),
    canary: await describe(canary),
    tmpTop,
  };
}

function arbitraries() {
  const prefix = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('', './') },
    { weight: 2, arbitrary: fc.constantFrom('/', '../', '../../', `${T}/sentinel/`, `${tmpdir()}/`) },
  );
  const segment = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('a', 'b', 'l', 'etc') },
    { weight: 1, arbitrary: fc.constantFrom('.', '..', 'n'.repeat(200), 'm'.repeat(256)) },
  );
  const name = fc
    .tuple(prefix, fc.array(segment, { minLength: 1, maxLength: 3 }), fc.boolean())
    .map(([p, segs, slash]) => `${p}${segs.join('/')}${slash ? '/' : ''}`);
  const escaping = fc.constantFrom(
    `${T}/sentinel`,
    `${T}/sentinel/a/file`,
    canary,
    '/',
    tmpdir(),
    '..',
    '../..',
    '../sentinel',
    '../../sentinel/a',
    `${'../'.repeat(12)}${T.slice(1)}/sentinel`,
  );
  const target = fc.oneof({ weight: 3, arbitrary: escaping }, { weight: 2, arbitrary: name }, { weight: 1, arbitrary: fc.constantFrom('a', 'a/b', '.') });
  const h = (n: string, extra: object) => ({ name: n, mtime: MTIME, ...extra });
  const file = (n: string, d = ''): PackEntry => ({ header: h(n, { type: 'file', mode: 0o644 }), data: Buffer.from(d) });
  const link = (n: string, t: string): PackEntry => ({ header: h(n, { type: 'symlink', linkname: t }) });
  const one: fc.Arbitrary<PackEntry> = fc.oneof(
    fc.tuple(name, fc.string({ maxLength: 20 })).map(([n, d]) => file(n, d)),
    name.map((n) => ({ header: h(n, { type: 'directory', mode: 0o755 }) })),
    fc.tuple(name, target).map(([n, t]) => link(n, t)),
    fc.tuple(name, target).map(([n, t]) => ({ header: h(n, { type: 'link', linkname: t }) })),
    fc.tuple(name, fc.constantFrom('.wh.', '.wh..wh..opq')).map(([n, w]) => {
      const parts = n.replace(/\/+$/, '').split('/');
      const last = parts.pop()!;
      return file([...parts, w === '.wh.' ? `.wh.${last}` : `${last}/${w}`].join('/'));
    }),
  );
  // A symlink (maybe replacing a directory of that name) and then a write, a directory or a hard link through it.
  const through: fc.Arbitrary<PackEntry[]> = fc
    .tuple(fc.constantFrom('a', 'l', 'a/l', 'etc'), target, fc.constantFrom('x', 'a/file', 'etc', '.wh.a'), fc.boolean(), fc.constantFrom('file', 'directory', 'link'))
    .map(([at, t, rest, dirFirst, kind]) => [
      ...(dirFirst ? [{ header: h(at, { type: 'directory', mode: 0o755 }) } as PackEntry] : []),
      link(at, t),
      kind === 'file' ? file(`${at}/${rest}`, 'pwned') : kind === 'link' ? { header: h(`${at}/${rest}`, { type: 'link', linkname: 'a' }) } : { header: h(`${at}/${rest}`, { type: 'directory', mode: 0o777 }) },
    ]);
  const entries = fc.array(fc.oneof({ weight: 3, arbitrary: one.map((e) => [e]) }, { weight: 1, arbitrary: through }), { minLength: 1, maxLength: 8 }).map((xs) => xs.flat());
  return { entries, compression: fc.constantFrom('none', 'gzip', 'zstd') };
}

const compress = (tar: Buffer, c: string): Buffer =>
  c === 'gzip' ? gzipSync(tar) : c === 'zstd' ? execFileSync('zstd', ['-q', '-c'], { input: tar, maxBuffer: 16 << 20 }) : tar;

async function checkInside(layer: string): Promise<void> {
  const real = await realpath(layer);
  for (const [rel, desc] of await snapshot(layer)) {
    const [ino, kind] = desc.split(' ');
    if (kind !== 'f') continue;
    expect(sentinelInodes.has(Number(ino)), `${rel} is a hard link to a sentinel file`).toBe(false);
    expect((await realpath(join(layer, rel))).startsWith(`${real}/`), `${rel} resolves outside the layer`).toBe(true);
  }
}

let n = 0;
it(
  'no generated archive changes anything outside its layer dir',
  async () => {
    const { entries, compression } = arbitraries();
    await fc.assert(
      fc.asyncProperty(entries, compression, async (es, c) => {
        // Taken per run, so that shrinking a failure is not confused by the damage an earlier run did.
        const before = await outside();
        const tar = await packTar(es);
        const blob = join(T, 'blob');
        await writeFile(blob, compress(tar, c));
        const dir = join(T, 'work', `layer-${n++}`);
        const err = await unpackLayer({ blob, dir, digest: 'sha256:fuzz', diffId: sha256(tar), maxBytes: 1 << 20 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        try {
          if (err !== undefined) expect(isHullError(err, 'invalid') || isHullError(err, 'resource'), String(err)).toBe(true);
          else await checkInside(dir);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
        expect(await outside()).toEqual(before);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: false },
    );
  },
  120_000,
);
