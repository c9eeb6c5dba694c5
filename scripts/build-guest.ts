/**
 * Build Hull's VM guest into build/guest/ (see src/runtime/qemu/guest.ts):
 *
 *   node dist/scripts/build-guest.js [outDir]
 *
 *   1. the kernel: the package `linux-image-cloud-amd64` depends on, fetched with
 *      `apt-get download` (cached under <outDir>/cache), unpacked with dpkg-deb;
 *   2. initrd.gz: busybox-static, the virtio modules the cloud kernel builds as
 *      modules, virtiofs among them (in dependency order, read from each .ko's depends=), and the
 *      guest scripts from guest/ (init, rc, agent, run, …);
 *   3. debian-min.qcow2: an ext4 disk (`mke2fs -d`) with busybox, the same
 *      scripts and resize2fs, converted to qcow2 so VM disks can be linked clones.
 *
 * Idempotent: when every input (kernel package, busybox, resize2fs, guest/*,
 * the module list, this builder's version) hashes as the last build did, it writes nothing.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { MANIFEST, repoRoot, type GuestManifest } from '../src/runtime/qemu/guest.js';
import { run } from '../src/sys/run.js';

const BUILDER_VERSION = '1';
const BUSYBOX = '/bin/busybox';
const RESIZE2FS = '/sbin/resize2fs';
const BASE_DISK_SIZE = '256M';
/** Modules the guest needs; their dependencies come along. */
const MODULES = ['virtio_pci', 'virtio_blk', 'virtio_console', 'virtio_net', 'virtio_balloon', 'qemu_fw_cfg', 'button', 'evdev', 'virtiofs'];
/** Guest scripts, from guest/ to /hull/ (inittab to /etc/). */
const SCRIPTS = ['init', 'rc', 'agent', 'json.awk', 'run', 'ports', 'halt', 'power-button', 'inittab', 'cp'];

const log = (msg: string) => process.stdout.write(`build-guest: ${msg}\n`);
const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

async function main(): Promise<void> {
  const repo = repoRoot();
  const out = resolve(process.argv[2] ?? join(repo, 'build', 'guest'));
  const cache = join(out, 'cache');
  await mkdir(cache, { recursive: true });
  const pkg = await kernelPackage(out);
  const inputs = await inputsHash(repo, pkg);
  const old = await readManifest(out);
  if (old?.inputs === inputs && ['vmlinuz', 'initrd.gz', 'debian-min.qcow2'].every((f) => existsSync(join(out, f)))) {
    log(`${out} is up to date (${old.kernelRelease})`);
    return;
  }
  const kdir = await unpackKernel(pkg, cache);
  const release = (await readdir(join(kdir, 'lib', 'modules')))[0];
  const tmp = await mkdtemp(join(out, '.build-'));
  try {
    await copyFile(join(kdir, 'boot', `vmlinuz-${release}`), join(tmp, 'vmlinuz'));
    await buildInitramfs(repo, join(kdir, 'lib', 'modules', release), join(tmp, 'initrd.gz'), tmp);
    await buildBaseDisk(repo, join(tmp, 'debian-min.qcow2'), tmp);
    for (const f of ['vmlinuz', 'initrd.gz', 'debian-min.qcow2']) await rename(join(tmp, f), join(out, f));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const m: GuestManifest = { kernelPackage: pkg, kernelRelease: release, inputs, kernel: 'vmlinuz', initrd: 'initrd.gz', baseDisk: 'debian-min.qcow2', builtAt: new Date().toISOString() };
  await writeFile(join(out, MANIFEST), `${JSON.stringify(m, null, 2)}\n`);
  log(`built ${out} (kernel ${release})`);
}

/**
 * `linux-image-cloud-amd64` is a metapackage; the kernel is what it depends on.
 * Without package lists (a fresh machine), `apt-get update` once; without a
 * package source at all, the kernel of the last build is kept.
 */
async function kernelPackage(out: string): Promise<string> {
  const ask = async () => {
    const r = await run(['apt-cache', 'depends', 'linux-image-cloud-amd64'], { timeoutMs: 60_000, allowFailure: true });
    return /Depends:\s*(linux-image-\S+-cloud-amd64)/.exec(r.stdout)?.[1];
  };
  let pkg = await ask();
  if (!pkg) {
    log('apt-cache does not know linux-image-cloud-amd64: apt-get update');
    await run(['apt-get', 'update', '-qq'], { timeoutMs: 600_000, allowFailure: true });
    pkg = await ask();
  }
  pkg ??= (await readManifest(out))?.kernelPackage;
  if (!pkg) throw new Error('no linux-image-cloud-amd64 in the package lists (is a Debian bookworm source configured?)');
  return pkg;
}

async function inputsHash(repo: string, pkg: string): Promise<string> {
  // The module list is an input too: a guest built before a module was added is rebuilt.
  const h = createHash('sha256').update(`${BUILDER_VERSION}\n${pkg}\n${MODULES.join(',')}\n`);
  h.update(await readFile(BUSYBOX));
  h.update(await readFile(RESIZE2FS).catch(() => Buffer.alloc(0)));
  for (const s of SCRIPTS) h.update(`${s}\n`).update(await readFile(join(repo, 'guest', s)));
  return h.digest('hex');
}

async function readManifest(out: string): Promise<GuestManifest | undefined> {
  try {
    return JSON.parse(await readFile(join(out, MANIFEST), 'utf8')) as GuestManifest;
  } catch {
    return undefined;
  }
}

/** Download (once) and unpack (once) the kernel package; returns the unpacked tree. */
async function unpackKernel(pkg: string, cache: string): Promise<string> {
  const dir = join(cache, pkg);
  if (existsSync(join(dir, '.done'))) return dir;
  let deb = (await readdir(cache)).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!deb) {
    log(`downloading ${pkg}`);
    await run(['apt-get', 'download', pkg], { cwd: cache, timeoutMs: 600_000 });
    deb = (await readdir(cache)).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${cache}`);
  }
  await rm(dir, { recursive: true, force: true });
  await run(['dpkg-deb', '-x', join(cache, deb), dir], { timeoutMs: 300_000 });
  await writeFile(join(dir, '.done'), '');
  return dir;
}

/** busybox with every applet linked where busybox says it belongs, plus the guest scripts and /etc. */
async function stageUserland(repo: string, root: string): Promise<void> {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc/acpi/PWRF', 'hull', 'proc', 'sys', 'dev', 'run', 'root', 'var/lib/hull', 'var/log']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await mkdir(join(root, 'tmp'), { mode: 0o1777 });
  await chmod(join(root, 'tmp'), 0o1777);
  await copyFile(BUSYBOX, join(root, 'bin', 'busybox'));
  await chmod(join(root, 'bin', 'busybox'), 0o755);
  const list = (await run([BUSYBOX, '--list-full'])).stdout.split('\n').filter(Boolean);
  for (const p of list) {
    if (p === 'bin/busybox' || existsSync(join(root, p))) continue;
    await symlink('/bin/busybox', join(root, p));
  }
  for (const s of SCRIPTS) {
    const to = s === 'inittab' ? join(root, 'etc', 'inittab') : s === 'power-button' ? join(root, 'etc', 'acpi', 'PWRF', '00000080') : join(root, 'hull', s);
    await copyFile(join(repo, 'guest', s), to);
    await chmod(to, s === 'inittab' || s === 'json.awk' ? 0o644 : 0o755);
  }
  const files: Record<string, string> = {
    'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    'etc/group': 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n',
    'etc/hostname': 'hull\n',
    'etc/os-release': 'PRETTY_NAME="Hull debian-min (busybox on a Debian kernel)"\nNAME="debian-min"\nID=hull-debian-min\n',
    'etc/profile': 'export PATH=/bin:/sbin:/usr/bin:/usr/sbin\nexport PS1="\\h:\\w# "\n',
  };
  for (const [p, text] of Object.entries(files)) await writeFile(join(root, p), text);
}

/** Modules named, with their dependencies first (depends= from each .ko's modinfo). */
async function moduleOrder(modDir: string): Promise<Array<{ name: string; path: string }>> {
  const byName = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.name.endsWith('.ko')) byName.set(e.name.slice(0, -3).replace(/-/g, '_'), join(d, e.name));
    }
  };
  await walk(join(modDir, 'kernel'));
  const order: Array<{ name: string; path: string }> = [];
  const seen = new Set<string>();
  const visit = async (name: string): Promise<void> => {
    if (seen.has(name)) return;
    seen.add(name);
    const path = byName.get(name);
    if (!path) throw new Error(`kernel module ${name} not found under ${modDir}`);
    const info = (await readFile(path)).toString('latin1');
    const m = /depends=([^\0]*)/.exec(info);
    for (const dep of (m?.[1] ?? '').split(',').filter(Boolean)) await visit(dep.replace(/-/g, '_'));
    order.push({ name, path });
  };
  for (const m of MODULES) await visit(m);
  return order;
}

async function buildInitramfs(repo: string, modDir: string, out: string, tmp: string): Promise<void> {
  const root = join(tmp, 'initramfs');
  await stageUserland(repo, root);
  await copyFile(join(repo, 'guest', 'init'), join(root, 'init'));
  await chmod(join(root, 'init'), 0o755);
  await mkdir(join(root, 'newroot'));
  await mkdir(join(root, 'lib', 'modules'), { recursive: true });
  const mods = await moduleOrder(modDir);
  for (const m of mods) await copyFile(m.path, join(root, 'lib', 'modules', `${m.name}.ko`));
  await writeFile(join(root, 'lib', 'modules', 'load-order'), mods.map((m) => `${m.name}\n`).join(''));
  // The kernel opens /dev/console for /init before anything mounts devtmpfs.
  await run(['mknod', '-m', '600', join(root, 'dev', 'console'), 'c', '5', '1']);
  await run(['mknod', '-m', '666', join(root, 'dev', 'null'), 'c', '1', '3']);
  await run(['sh', '-c', 'cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1 -n >"$2"', 'sh', root, out], { timeoutMs: 120_000 });
  log(`initramfs: ${mods.length} modules (${mods.map((m) => m.name).join(' ')})`);
}

/** Copy a dynamically linked program and the libraries ldd names, at the same paths. */
async function copyWithLibs(prog: string, root: string): Promise<void> {
  const ldd = (await run(['ldd', prog])).stdout;
  const libs = [...ldd.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]);
  for (const p of [prog, ...libs]) {
    const to = join(root, p);
    await mkdir(dirname(to), { recursive: true });
    await copyFile(p, to);
  }
}

async function buildBaseDisk(repo: string, out: string, tmp: string): Promise<void> {
  const root = join(tmp, 'rootfs');
  await stageUserland(repo, root);
  await rm(join(root, 'sbin', 'resize2fs'), { force: true });
  if (existsSync(RESIZE2FS)) await copyWithLibs(RESIZE2FS, root);
  const raw = join(tmp, 'debian-min.ext4');
  await run(['mke2fs', '-q', '-t', 'ext4', '-L', 'hull-root', '-E', 'root_owner=0:0', '-d', root, raw, BASE_DISK_SIZE], { timeoutMs: 120_000 });
  await run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, out], { timeoutMs: 120_000 });
  await rm(raw);
  log(`debian-min: ${sha256(await readFile(out)).slice(0, 12)}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`build-guest: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
