import { HullError } from '../../core/errors.js';
import { which } from '../host.js';

/**
 * --init: Debian's tini, statically linked so it runs in any image, bound
 * read-only at INIT_PATH in the container and started as PID 1 with the
 * program after `--` (as docker's /sbin/docker-init and podman's
 * /run/podman-init, both tini too). It forwards the signals it gets to the
 * program and reaps the orphans that land on it; `exec` never goes through it.
 */
export const INIT_PATH = '/run/hull-init';
const BINARY = 'tini-static';

/** The host's tini-static, or a clear error naming the package that has it. */
export async function findInit(find: (name: string) => Promise<string | undefined> = which): Promise<string> {
  const path = await find(BINARY);
  if (!path) throw new HullError('unavailable', `--init needs ${BINARY}, from Debian's tini package: install it (apt-get install tini, or npm run setup)`);
  return path;
}
