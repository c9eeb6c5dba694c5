import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxLayout } from '../../src/image/busybox-layout.js';
import { sha256 } from '../../src/image/content/digest.js';
import { writeOciLayout } from '../../src/image/oci-layout-writer.js';
import { packTar } from '../../src/image/tar-pack.js';
import { TestDaemon } from '../helpers/hull.js';
import { busyboxTar, imageLayout, multiArchLayout, randomLayer, umociLayout } from '../helpers/image-fixtures.js';
import { type Proxy, type Registry, startProxy, startRegistry } from '../helpers/registry.js';

/**
 * Registry pull and push against a real registry (Debian's docker-registry,
 * distribution 2.8) on loopback, with skopeo as the interop peer and a small
 * proxy in front that counts bytes and misbehaves on purpose. d1 pushes,
 * d2 is a fresh daemon that pulls.
 */
let work: string;
let reg: Registry;
let proxy: Proxy;
let d1: TestDaemon;
let d2: TestDaemon;
let bbTar: Buffer;
let R: string; // the registry, as images name it
let P: string; // the proxy in front of it

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hull-registry-it-'));
  [reg, d1, d2] = await Promise.all([startRegistry(join(work, 'registry')), TestDaemon.start(), TestDaemon.start()]);
  proxy = await startProxy(reg.host);
  R = reg.host;
  P = proxy.host;
  await buildBusyboxLayout(join(work, 'busybox'));
  bbTar = await busyboxTar(join(work, 'busybox'));
});

afterAll(async () => {
  await Promise.allSettled([d1?.destroy(), d2?.destroy(), proxy?.stop(), reg?.stop()]);
  await rm(work, { recursive: true, force: true });
});

const ZSTD_LAYER = 'application/vnd.oci.image.layer.v1.tar+zstd';
const skopeo = (...args: string[]) => execFileSync('skopeo', args, { stdio: 'pipe' }).toString();
const listDir = async (dir: string) => (await readdir(dir).catch(() => [])).sort();
const blobsOf = (d: TestDaemon) => listDir(join(d.root, 'image', 'blobs', 'sha256'));

let n = 0;
/** Import an image of `tars` into d1 as `name` and push it to the registry. */
async function pushed(name: string, tars: Buffer[]): Promise<{ manifestDigest: string; layerDigests: string[]; push: string }> {
  const dir = join(work, `layout-${n++}`);
  const info = await imageLayout(dir, tars);
  await d1.ok(['image', 'import', dir, `${R}/${name}`]);
  const push = await d1.ok(['push', `${R}/${name}`]);
  return { ...info, push };
}

describe('push and pull', () => {
  it('pushes from one daemon, pulls into a fresh one and runs it', async () => {
    await d1.ok(['tag', 'busybox', `${R}/x/busybox:1`]);
    const out = await d1.ok(['push', `${R}/x/busybox:1`]);
    expect(out).toContain(`The push refers to repository [${R}/x/busybox]`);
    expect(out).toMatch(/: Pushed/);
    const digest = /1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(out)![1];

    const pull = await d2.ok(['pull', `${R}/x/busybox:1`]);
    expect(pull).toContain('Pulling from x/busybox');
    // d2's built-in busybox has the same layer.
    expect(pull).toMatch(/: Already exists/);
    expect(pull).toContain(`Digest: ${digest}`);
    expect(pull.trim().split('\n').pop()).toBe(`${R}/x/busybox:1`);
    expect(await d2.ok(['run', '--rm', `${R}/x/busybox:1`, 'echo', 'hi'])).toBe('hi\n');
    // Same bytes, same image: the id is the config's digest on both sides.
    const id = (d: TestDaemon, ref: string) => d.ok(['image', 'inspect', ref]).then((s) => JSON.parse(s)[0].id);
    expect(await id(d2, `${R}/x/busybox:1`)).toBe(await id(d1, 'busybox'));
    // Pulling again transfers nothing and says so.
    expect(await d2.ok(['pull', `${R}/x/busybox:1`])).toContain('Image is up to date');
    // docker.io/library/busybox is busybox.
    expect(await d1.ok(['run', '--rm', 'docker.io/library/busybox:latest', 'echo', 'ok'])).toBe('ok\n');
  });

  it('run and create pull an image they do not have (--pull missing, the default); --pull never does not', async () => {
    await d1.ok(['tag', 'busybox', `${R}/x/autopull:1`]);
    await d1.ok(['push', `${R}/x/autopull:1`]);
    const never = await d2.hull(['run', '--rm', '--pull', 'never', `${R}/x/autopull:1`, 'echo', 'hi']);
    expect(never.code).toBe(125);
    expect(never.stderr).toMatch(/image ".*autopull:1" not found/);
    const r = await d2.hull(['run', '--rm', `${R}/x/autopull:1`, 'echo', 'hi']);
    expect(r.stdout).toBe('hi\n');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Unable to find image '${R}/x/autopull:1' locally`);
    expect(r.stderr).toContain('Pulling from x/autopull');
    // Here now: no pull the second time.
    expect((await d2.hull(['create', '--name', 'pulled', `${R}/x/autopull:1`, 'true'])).stderr).toBe('');
    await d2.ok(['rm', 'pulled']);
    const missing = await d2.hull(['run', '--rm', `${R}/x/no-such:1`, 'true']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toContain(`Unable to find image '${R}/x/no-such:1' locally`);
    expect((await d2.ok(['ps', '-aq'])).trim()).toBe('');
  });

  it('refuses a tag that is not there, and an unreachable registry, clearly', async () => {
    const missing = await d2.hull(['pull', `${R}/x/busybox:nope`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/manifest x\/busybox:nope: MANIFEST_UNKNOWN/);
    const down = await d2.hull(['pull', '127.0.0.1:1/x/y']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/registry 127\.0\.0\.1:1: .*connection refused/);
  });

  it('interoperates with skopeo both ways', async () => {
    // Hull's push, read back by skopeo (which verifies every digest on copy).
    const inspect = JSON.parse(skopeo('inspect', '--tls-verify=false', `docker://${R}/x/busybox:1`));
    expect(inspect.Architecture).toBe('amd64');
    const pushedDigest = JSON.parse(await d1.ok(['image', 'inspect', `${R}/x/busybox:1`]))[0].repoDigests;
    expect(pushedDigest).toContain(`${R}/x/busybox@${inspect.Digest}`);
    skopeo('copy', '--quiet', '--src-tls-verify=false', `docker://${R}/x/busybox:1`, `oci:${join(work, 'skopeo-out')}:t`);

    // An image umoci wrote and skopeo pushed, pulled and run by Hull.
    const layout = join(work, 'umoci');
    await umociLayout(layout, work, 'v1');
    skopeo('copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${R}/peer/app:v1`);
    await d2.ok(['pull', `${R}/peer/app:v1`]);
    expect(await d2.ok(['run', '--rm', `${R}/peer/app:v1`])).toBe('hello from umoci\n');
  });

  it('takes the host platform from a multi-platform index, another with --platform, and pulls by digest', async () => {
    const layout = join(work, 'multi');
    await multiArchLayout(layout, bbTar, 'multi');
    skopeo('copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${layout}:multi`, `docker://${R}/x/multi:1`);
    // skopeo rewrites the index on the way (its own serialisation), so take the digest the registry has.
    const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${R}/x/multi:1`]);
    const indexDigest = sha256(raw);
    expect(JSON.parse(raw.toString()).manifests).toHaveLength(2);

    await d2.ok(['pull', `${R}/x/multi:1`]);
    expect(await d2.ok(['run', '--rm', `${R}/x/multi:1`, 'cat', '/arch'])).toBe('amd64\n');
    const arm = await d2.ok(['pull', '--platform', 'linux/arm64', `${R}/x/multi:1`]);
    expect(arm).toContain(`Digest: ${indexDigest}`);
    expect(JSON.parse(await d2.ok(['image', 'inspect', `${R}/x/multi:1`]))[0].architecture).toBe('arm64');
    const none = await d2.hull(['pull', '--platform', 'linux/s390x', `${R}/x/multi:1`]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/has no image for linux\/s390x \(it has: linux\/arm64, linux\/amd64\)/);

    // By digest: no tag is set; the image answers to name@digest.
    const byDigest = `${R}/x/multi@${indexDigest}`;
    expect((await d2.ok(['pull', byDigest])).trim().split('\n').pop()).toBe(byDigest);
    expect(await d2.ok(['run', '--rm', byDigest, 'cat', '/arch'])).toBe('amd64\n');
    const absent = await d2.hull(['pull', `${R}/x/multi@sha256:${'0'.repeat(64)}`]);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toContain(`manifest x/multi:sha256:${'0'.repeat(64)}`);
    expect(absent.stderr).toMatch(/not found|manifest unknown/i);
  });

  it('refuses a manifest whose bytes do not hash to the digest pulled by, and stores nothing', async () => {
    const pushedDigest = (push: string) => /: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(push)![1];
    const asked = pushedDigest((await pushed('x/swap:a', [await randomLayer('sa', 4096)])).push);
    const served = pushedDigest((await pushed('x/swap:b', [await randomLayer('sb', 4096)])).push);
    const blobsBefore = await blobsOf(d2);
    // A well-formed manifest of another image, as a wrong (or hostile) mirror would send: its layers and config verify on their own.
    proxy.rules.swapManifest = new Map([[asked, 'b']]);
    let r;
    try {
      r = await d2.hull(['pull', `${P}/x/swap@${asked}`]);
    } finally {
      delete proxy.rules.swapManifest;
    }
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`manifest x/swap:${asked}: content is ${served}, not the digest asked for: refused`);
    expect(await blobsOf(d2)).toEqual(blobsBefore);
    expect(await d2.ok(['images'])).not.toContain('swap');
    // Served honestly, the same digest pulls.
    await d2.ok(['pull', `${P}/x/swap@${asked}`]);
  });
});

describe('layers', () => {
  it('shares layers: a second image with 4 of 5 layers in common transfers only the new one', async () => {
    const common = [bbTar, await randomLayer('r1', 1 << 20), await randomLayer('r2', 1 << 20), await randomLayer('r3', 9 << 20)];
    const a = await pushed('x/layers-a:1', [...common, await randomLayer('a', 1 << 20)]);
    const b = await pushed('x/layers-b:1', [...common, await randomLayer('b', 1 << 20)]);
    // The push of b mounted its 4 common layers from a's repository instead of uploading them.
    expect(b.push.match(/: Mounted from x\/layers-a/g)).toHaveLength(4);
    expect(b.push.match(/: Pushed/g)).toHaveLength(1);
    expect(a.push.match(/: Pushed/g)).toHaveLength(5);

    await d2.ok(['pull', `${P}/x/layers-a:1`]);
    proxy.reset();
    const out = await d2.ok(['pull', `${P}/x/layers-b:1`]);
    expect(out.match(/Already exists/g)).toHaveLength(4);
    const layerGets = [...proxy.stats.blobGets.keys()].filter((d) => b.layerDigests.includes(d));
    expect(layerGets).toEqual([b.layerDigests[4]]);
    const newLayerBytes = proxy.stats.blobBytes.get(b.layerDigests[4])!;
    const total = [...proxy.stats.blobBytes.values()].reduce((x, y) => x + y, 0);
    expect(total - newLayerBytes).toBeLessThan(2048); // the rest is the config
    expect(await d2.ok(['run', '--rm', `${P}/x/layers-b:1`, 'sh', '-c', 'wc -c < /data/b'])).toBe(`${1 << 20}\n`);
  });

  it('downloads a layer two concurrent pulls need once', async () => {
    const shared = await randomLayer('shared', 2 << 20);
    const c = await pushed('x/conc-c:1', [shared, await randomLayer('c', 4096)]);
    await pushed('x/conc-d:1', [shared, await randomLayer('d', 4096)]);
    proxy.reset();
    proxy.rules.delay = { digests: new Set([c.layerDigests[0]]), ms: 400 };
    try {
      await Promise.all([d2.ok(['pull', `${P}/x/conc-c:1`]), d2.ok(['pull', `${P}/x/conc-d:1`])]);
    } finally {
      delete proxy.rules.delay;
    }
    expect(proxy.stats.blobGets.get(c.layerDigests[0])).toBe(1);
    expect(proxy.stats.blobBytes.get(c.layerDigests[0])).toBe(shared.length);
  });

  it('resumes a blob download whose connection dropped, with a Range request', async () => {
    const f = await pushed('x/resume:1', [await randomLayer('f', 3 << 20)]);
    proxy.reset();
    proxy.rules.cutOnce = new Set([f.layerDigests[0]]);
    try {
      await d2.ok(['pull', `${P}/x/resume:1`]);
    } finally {
      delete proxy.rules.cutOnce;
    }
    expect(proxy.stats.ranges).toHaveLength(1);
    expect(proxy.stats.ranges[0]).toMatch(/^bytes=\d+-$/);
    expect(proxy.stats.blobGets.get(f.layerDigests[0])).toBe(2);
  });

  it('follows a redirect to blob storage on another origin', async () => {
    const g = await pushed('x/redirect:1', [await randomLayer('g', 64 << 10)]);
    proxy.reset();
    proxy.rules.redirect = true;
    try {
      await d2.ok(['pull', `${P}/x/redirect:1`]);
    } finally {
      delete proxy.rules.redirect;
    }
    expect(proxy.stats.storage.map((s) => s.digest)).toContain(g.layerDigests[0]);
  });

  it('refuses a blob with the wrong bytes, and leaves nothing behind', async () => {
    const e = await pushed('x/corrupt:1', [await randomLayer('e', 256 << 10)]);
    const blobsBefore = await blobsOf(d2);
    const layersBefore = await listDir(join(d2.root, 'image', 'layers', 'sha256'));
    proxy.rules.corrupt = e.layerDigests[0];
    let r;
    try {
      r = await d2.hull(['pull', `${P}/x/corrupt:1`]);
    } finally {
      delete proxy.rules.corrupt;
    }
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`blob ${e.layerDigests[0]} of x/corrupt: blob digest mismatch: expected ${e.layerDigests[0]}, got sha256:`);
    expect(r.stderr).toContain('refused, nothing stored');
    expect(await blobsOf(d2)).toEqual(blobsBefore);
    expect(await listDir(join(d2.root, 'image', 'layers', 'sha256'))).toEqual(layersBefore);
    expect(await listDir(join(d2.root, 'image', 'tmp'))).toEqual([]);
    expect(await d2.ok(['images'])).not.toContain('corrupt');
    // The same image through a well-behaved path is fine.
    await d2.ok(['pull', `${P}/x/corrupt:1`]);
  });
});

describe('zstd layers', () => {
  it('imports and runs an image whose layer the zstd CLI compressed, pushes it and pulls it into a fresh daemon', async () => {
    const dir = join(work, 'layout-zstd');
    const marker = await packTar([{ header: { name: 'zst.txt', type: 'file', mode: 0o644 }, data: Buffer.from('from zstd\n') }]);
    const layers = [bbTar, marker];
    await writeOciLayout(dir, {
      config: { architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) } },
      layers: layers.map((l) => ({ blob: execFileSync('zstd', ['-q', '-c'], { input: l, maxBuffer: 64 << 20 }), mediaType: ZSTD_LAYER })),
    });
    await d1.ok(['image', 'import', dir, `${R}/x/zstd:1`]);
    expect(await d1.ok(['run', '--rm', `${R}/x/zstd:1`, 'cat', '/zst.txt'])).toBe('from zstd\n');
    await d1.ok(['push', `${R}/x/zstd:1`]);
    const inspect = JSON.parse(skopeo('inspect', '--raw', '--tls-verify=false', `docker://${R}/x/zstd:1`));
    expect(inspect.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([ZSTD_LAYER, ZSTD_LAYER]);
    await d2.ok(['pull', `${R}/x/zstd:1`]);
    expect(await d2.ok(['run', '--rm', `${R}/x/zstd:1`, 'cat', '/zst.txt'])).toBe('from zstd\n');
  });
});

describe('registries not on loopback', () => {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

  it.skipIf(!external)('need --insecure-registry to be spoken to over plain HTTP', async () => {
    const far = await startProxy(reg.host, external);
    const d3 = await TestDaemon.start(['--insecure-registry', far.host]);
    try {
      const refused = await d2.hull(['pull', `${far.host}/x/busybox:1`]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/--insecure-registry/);
      await d3.ok(['pull', `${far.host}/x/busybox:1`]);
      expect(await d3.ok(['run', '--rm', `${far.host}/x/busybox:1`, 'echo', 'far'])).toBe('far\n');
    } finally {
      await d3.destroy();
      await far.stop();
    }
  });
});

describe('save, load and prune', () => {
  it('round-trips images through docker-save and OCI archives, readable by skopeo', async () => {
    const names = [`${R}/x/layers-a:1`, 'busybox:latest'];
    const ids = JSON.parse(await d1.ok(['image', 'inspect', ...names])).map((i: { id: string }) => i.id);
    const docker = join(work, 'save-docker.tar');
    const oci = join(work, 'save-oci.tar');
    await d1.ok(['save', '-o', docker, ...names]);
    await d1.ok(['image', 'save', '--format', 'oci', '-o', oci, ...names]);

    // A peer reads them (skopeo checks layer digests against the config's diff_ids when copying).
    expect(JSON.parse(skopeo('inspect', `docker-archive:${docker}:${R}/x/layers-a:1`)).Layers).toHaveLength(5);
    skopeo('copy', '--quiet', `docker-archive:${docker}:busybox:latest`, `oci:${join(work, 'from-docker-archive')}:t`);
    expect(JSON.parse(skopeo('inspect', `oci-archive:${oci}:1`)).Layers).toHaveLength(5);

    const d3 = await TestDaemon.start();
    try {
      for (const file of [docker, oci]) {
        const out = await d3.ok(['load', '-i', file]);
        expect(out).toContain(`Loaded image: ${R}/x/layers-a:1`);
        expect(JSON.parse(await d3.ok(['image', 'inspect', ...names])).map((i: { id: string }) => i.id)).toEqual(ids);
        expect(await d3.ok(['run', '--rm', names[0], 'sh', '-c', 'wc -c < /data/a'])).toBe(`${1 << 20}\n`);
        await d3.ok(['rmi', names[0]]);
      }
      const empty = await d3.hull(['load', '-i', join(work, 'registry', 'config.yml')]);
      expect(empty.code).toBe(1);
      expect(empty.stderr).toMatch(/not a readable tar archive|neither an OCI image layout/);
    } finally {
      await d3.destroy();
    }
  });

  it('prunes unnamed images, and with -a every unused one, but never one a container uses', async () => {
    const images = () => d2.ok(['images', '--format', 'json']).then((s) => JSON.parse(s) as Array<{ id: string; tags: string[] }>);
    const idOf = async (ref: string) => JSON.parse(await d2.ok(['image', 'inspect', ref]))[0].id as string;
    // The amd64 image of x/multi lost its name to the arm64 one and is unnamed now: a container uses it.
    const inUse = (await images()).find((i) => i.tags.length === 0)!;
    expect(inUse).toBeDefined();
    const ctr = (await d2.ok(['create', inUse.id, 'true'])).trim();
    // Moving the name off the arm64 image leaves it unnamed and unused.
    const arm = await idOf(`${R}/x/multi:1`);
    await d2.ok(['tag', `${P}/x/layers-b:1`, `${R}/x/multi:1`]);
    const named = (await images()).filter((i) => i.tags.length > 0).map((i) => i.id);

    const out = await d2.ok(['image', 'prune', '-f']);
    expect(out).toContain(`deleted: ${arm}`);
    expect(out).toMatch(/Total reclaimed space: [1-9]/);
    expect((await images()).map((i) => i.id).sort()).toEqual([...named, inUse.id].sort());

    // -a keeps the built-in busybox (it needs no registry; issue 13 item 8) and says so.
    const builtin = await idOf('busybox');
    expect(await d2.ok(['image', 'prune', '-a', '-f'])).toContain('kept: busybox:latest (built in)');
    expect((await images()).map((i) => i.id).sort()).toEqual([inUse.id, builtin].sort());
    expect(await d2.ok(['start', '-a', ctr])).toBe('');
    await d2.ok(['rm', ctr]);
    await d2.ok(['image', 'prune', '-a', '-f']);
    expect((await images()).map((i) => i.id)).toEqual([builtin]);
    // Without its busybox:latest name the image is like any other (here it has the names it was pulled by).
    await d2.ok(['rmi', 'busybox']);
    await d2.ok(['image', 'prune', '-a', '-f']);
    expect(await images()).toEqual([]);
    expect(await blobsOf(d2)).toEqual([]);
    expect(await listDir(join(d2.root, 'image', 'layers', 'sha256'))).toEqual([]);
  });
});
