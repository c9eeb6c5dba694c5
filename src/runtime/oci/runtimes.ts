import { mkdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { crunHybridWrapper, which, type HostInfo } from '../host.js';
import { hybridNamespace } from './hybrid-ns.js';
import { OciRuntime } from './runtime-cli.js';
import { guardCrunStdin } from './stdin-guard.js';

/**
 * The OCI runtimes a root's containers run under, one per runtime the host
 * has (host.ts), each with its state under <root>/runtime/<name>: runc as is;
 * crun behind the stdin guard (stdin-guard.ts) and, on a hybrid-cgroup host,
 * inside the root's mount namespace without the cgroup2 mount (hybrid-ns.ts),
 * or through the per-call wrapper where that namespace cannot be made. The
 * daemon builds them at start; so does the driver suite, to run the driver
 * as the daemon does.
 */
export async function ociRuntimes(root: string, host: HostInfo, warn: (msg: string, err: unknown) => void): Promise<Map<string, OciRuntime>> {
  const m = new Map<string, OciRuntime>();
  for (const [name, path] of Object.entries(host.runtimes)) {
    const stateRoot = join(root, 'runtime', name);
    await mkdir(stateRoot, { recursive: true, mode: 0o700 });
    const rt = name === 'crun' && host.cgroupMode === 'hybrid' ? await hybridCrun(root, path, stateRoot, warn) : new OciRuntime(name, path, path, stateRoot);
    m.set(name, name === 'crun' ? await guardCrunStdin(await realpath(root), rt) : rt);
  }
  return m;
}

/** The mount namespace crun runs in (hybrid hosts with nsenter), if any: released at a clean shutdown. */
export const crunNamespace = (runtimes: Map<string, OciRuntime>): string | undefined =>
  runtimes.get('crun')?.execArgs.find((a) => a.startsWith('--mount='))?.slice('--mount='.length);

/** crun on a hybrid-cgroup host: inside the root's mount namespace, else through the per-call wrapper. */
async function hybridCrun(root: string, path: string, stateRoot: string, warn: (msg: string, err: unknown) => void): Promise<OciRuntime> {
  const nsenter = await which('nsenter');
  const ns = nsenter
    ? await hybridNamespace(await realpath(root)).catch((e: unknown) => {
        warn('no mount namespace for crun: using the per-call wrapper', e);
        return undefined;
      })
    : undefined;
  if (nsenter && ns) return new OciRuntime('crun', path, nsenter, stateRoot, [`--mount=${ns}`, path]);
  return new OciRuntime('crun', path, await crunHybridWrapper(join(root, 'runtime'), path), stateRoot);
}
