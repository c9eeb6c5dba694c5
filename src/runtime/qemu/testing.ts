import { chmod, copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newId } from '../../core/ids.js';
import { newState, type Instance } from '../../core/instance.js';
import { run } from '../../sys/run.js';
import type { VmOptions } from './spec.js';

/** Helpers for the QEMU tests and benchmarks: instance records, a busybox image's layers, polling. */

export function vmInstance(name: string, opts: { image?: string; memoryBytes?: number; cpus?: number; hostname?: string; vm?: VmOptions } = {}): Instance {
  return {
    id: newId(),
    name,
    type: 'vm',
    createdAt: new Date().toISOString(),
    config: {
      image: opts.image ?? 'debian-min',
      imageId: '',
      cmd: [],
      entrypoint: [],
      env: [],
      workingDir: '',
      user: '',
      tty: false,
      openStdin: false,
      autoRemove: false,
      runtime: 'qemu',
      userns: false,
      noNewPrivileges: false,
      resources: { memoryBytes: opts.memoryBytes ?? 256 * 1024 * 1024, cpus: opts.cpus ?? 1 },
      restartPolicy: { name: 'no' },
      labels: {},
      hostname: opts.hostname ?? '',
      vm: opts.vm,
    } as Instance['config'],
    state: newState(),
  };
}

/**
 * Two layers in overlayfs form, as ImageService unpacks them: busybox with its
 * applets and an /etc, then a layer that deletes a file (a 0:0 character
 * device) and replaces a directory (opaque), so the merged rootfs shows
 * whether whiteouts were applied.
 */
export async function busyboxLayers(dir: string): Promise<string[]> {
  const base = join(dir, 'layer0');
  const top = join(dir, 'layer1');
  for (const d of ['bin', 'etc', 'tmp', 'old/sub', 'work']) await mkdir(join(base, d), { recursive: true });
  await copyFile('/bin/busybox', join(base, 'bin', 'busybox'));
  await chmod(join(base, 'bin', 'busybox'), 0o755);
  for (const a of (await run(['/bin/busybox', '--list'])).stdout.split('\n').filter(Boolean)) {
    if (a !== 'busybox') await symlink('busybox', join(base, 'bin', a));
  }
  await writeFile(join(base, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nsvc:x:1234:4321:svc:/:/bin/sh\n');
  await writeFile(join(base, 'etc', 'group'), 'root:x:0:\nsvc:x:4321:\n');
  await writeFile(join(base, 'etc', 'deleted-by-top'), 'gone\n');
  await writeFile(join(base, 'old', 'sub', 'hidden'), 'hidden by an opaque dir\n');
  await mkdir(join(top, 'etc'), { recursive: true });
  await mkdir(join(top, 'old'), { recursive: true });
  await run(['mknod', join(top, 'etc', 'deleted-by-top'), 'c', '0', '0']);
  await run(['setfattr', '-n', 'trusted.overlay.opaque', '-v', 'y', join(top, 'old')]);
  await writeFile(join(top, 'old', 'new'), 'from the top layer\n');
  return [base, top];
}

export { waitFor } from '../../core/poll.js';

/** Is the process there and not a zombie (the daemonized QEMU's parent, PID 1, reaps it when it will)? */
export async function processRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}
