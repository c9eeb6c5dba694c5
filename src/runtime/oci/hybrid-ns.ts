import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../sys/run.js';

/**
 * crun refuses hybrid cgroups; it runs when it cannot see the cgroup2 mount at
 * /sys/fs/cgroup/unified. Instead of a fresh `unshare -m` + `umount` around every
 * call (a shell, unshare, a shell and umount, and a copy of every host mount,
 * each time), the daemon makes one mount namespace without that mount and
 * conmon runs crun inside it: `nsenter --mount=<file> crun ...` (no shell).
 *
 *   <root>                  bind-mounted on itself and made shared, so the overlay
 *                           rootfs mounts (and unmounts) the daemon makes later
 *                           reach the namespace, which is their slave: nothing
 *                           made in it comes back to the host
 *   <root>/runtime/ns       a private bind mount: a namespace file on a shared
 *                           mount would propagate into the namespace itself
 *   <root>/runtime/ns/mnt   the namespace (nsfs bind mount)
 *   /run/netns              made a shared mount first, as `ip netns add` does,
 *                           so network namespaces added later are seen too
 *
 * A restarted daemon reuses the namespace: containers still under conmon call
 * crun through it for exec and kill. After a reboot the file is there but
 * nothing is mounted on it; a new namespace is made. If rootfs mounts already
 * sit under an unshared <root> (a root from before this scheme, with running
 * containers), binding <root> would hide them: undefined, and the caller falls
 * back to the per-call wrapper. A host path mounted after the namespace was made
 * outside <root> and /run/netns (a volume source) is not seen by crun.
 */
export async function hybridNamespace(root: string): Promise<string | undefined> {
  const nsDir = join(root, 'runtime', 'ns');
  const file = join(nsDir, 'mnt');
  const mounts = await readMounts();
  const top = (p: string) => mounts.filter((m) => m.point === p).at(-1);
  let fresh = false;
  await mkdir(nsDir, { recursive: true, mode: 0o700 });
  if (!top(root)) {
    if (mounts.some((m) => m.point.startsWith(`${root}/`))) return undefined;
    await mount('--bind', root, root);
    await writeFile(bindMarker(root), ''); // ours to unmount at shutdown (<root> may be a filesystem of its own)
  }
  if (!top(root)?.shared) {
    await mount('--make-shared', root);
    fresh = true;
  }
  await sharedNetnsDir(top('/run/netns'));
  if (!top(nsDir)) {
    await mount('--bind', nsDir, nsDir);
    await mount('--make-private', nsDir);
  }
  if (!fresh && top(file)?.fstype === 'nsfs') return file;
  if (top(file)) await run(['umount', file], { timeoutMs: 10_000 });
  await writeFile(file, '');
  await run(['unshare', `--mount=${file}`, '--propagation', 'slave', 'umount', '/sys/fs/cgroup/unified'], { timeoutMs: 10_000 });
  return file;
}

/**
 * Undo hybridNamespace at a clean shutdown when nothing else is mounted under
 * <root> (no container can need the namespace, and unmounting <root> hides no
 * build or VM image mount); with containers running it stays for the next daemon.
 */
export async function releaseHybridNamespace(root: string): Promise<void> {
  const mounts = await readMounts();
  const nsDir = join(root, 'runtime', 'ns');
  const own = new Set([nsDir, join(nsDir, 'mnt')]);
  if (mounts.some((m) => m.point.startsWith(`${root}/`) && !own.has(m.point))) return;
  const ours = await access(bindMarker(root)).then(() => true, () => false);
  for (const p of [join(nsDir, 'mnt'), nsDir, ...(ours ? [root] : [])]) {
    if (mounts.some((m) => m.point === p)) await run(['umount', '-l', p], { allowFailure: true, timeoutMs: 10_000 });
  }
  if (ours) await rm(bindMarker(root), { force: true });
}

const bindMarker = (root: string) => join(root, 'runtime', 'root-bind');

async function sharedNetnsDir(existing: MountEntry | undefined): Promise<void> {
  const dir = '/run/netns';
  if (existing?.shared) return;
  await mkdir(dir, { recursive: true, mode: 0o755 });
  if (!existing) await mount('--bind', dir, dir);
  await mount('--make-shared', dir);
}

const mount = (...args: string[]) => run(['mount', ...args], { timeoutMs: 10_000 });

interface MountEntry {
  point: string;
  fstype: string;
  shared: boolean;
}

/** /proc/self/mountinfo: "id parent dev root point opts [optional...] - fstype source superopts". */
export async function readMounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const f = pre.split(' ');
    const point = f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ point, fstype: post.split(' ')[0], shared: f.slice(6).some((x) => x.startsWith('shared:')) });
  }
  return out;
}
