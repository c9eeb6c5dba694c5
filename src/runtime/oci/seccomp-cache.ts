import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * crun compiles the seccomp profile to BPF on every container start (about
 * 12 ms here, a third of `crun create`). It also accepts the compiled filter
 * in the `run.oci.seccomp_bpf_data` annotation and leaves what it compiled in
 * <state>/<id>/seccomp.bpf. So the first container with a given profile pays,
 * and every later one reuses that filter. The key is the profile itself plus
 * the runtime binary, so a different profile or crun never gets a stale filter.
 */
export const BPF_ANNOTATION = 'run.oci.seccomp_bpf_data';

export class SeccompCache {
  private mem = new Map<string, string>();

  constructor(private dir: string) {}

  key(runtimePath: string, seccomp: unknown): string {
    return createHash('sha256').update(runtimePath).update('\0').update(JSON.stringify(seccomp)).digest('hex');
  }

  /** The base64 filter for this profile, if one was compiled before. */
  async get(key: string): Promise<string | undefined> {
    const hit = this.mem.get(key);
    if (hit) return hit;
    const data = await readFile(join(this.dir, `${key}.bpf`)).catch(() => undefined);
    if (!data?.length) return undefined;
    const b64 = data.toString('base64');
    this.mem.set(key, b64);
    return b64;
  }

  /** Keep the filter crun compiled for a container (best effort). */
  async learn(key: string, runtimeStateDir: string): Promise<void> {
    if (this.mem.has(key)) return;
    const data = await readFile(join(runtimeStateDir, 'seccomp.bpf')).catch(() => undefined);
    if (!data?.length) return;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFile(join(this.dir, `${key}.bpf`), data, { mode: 0o600 });
    this.mem.set(key, data.toString('base64'));
  }
}

const identities = new Map<string, Promise<string>>();
/** A runtime binary's identity for the cache key: path, size and mtime (an upgrade changes them). */
export function binaryIdentity(path: string): Promise<string> {
  let p = identities.get(path);
  if (!p) {
    p = stat(path).then(
      (st) => `${path}:${st.size}:${st.mtimeMs}`,
      () => path,
    );
    identities.set(path, p);
  }
  return p;
}
