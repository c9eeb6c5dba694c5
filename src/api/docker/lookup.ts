import type { Instance } from '../../core/instance.js';
import type { Engine } from '../../engine/engine.js';
import { DockerError, orNoSuch } from './errors.js';

/**
 * A container as docker's clients name it: a name (with or without its
 * leading `/`), a full id or a unique prefix. VMs are Hull's alone: the
 * Docker socket does not see them (docker has nothing to show them as).
 */
export async function container(engine: Engine, ref: string): Promise<Instance> {
  const name = ref.startsWith('/') ? ref.slice(1) : ref;
  const inst = await orNoSuch('container', name, () => engine.get(name));
  if (inst.type === 'vm') throw new DockerError(404, `No such container: ${name}`);
  return inst;
}

export const isLive = (i: Instance) => i.state.status === 'running' || i.state.status === 'paused';

/** Every container docker's clients see (VMs left out), newest first as docker lists them. */
export async function containers(engine: Engine, all: boolean): Promise<Instance[]> {
  const xs = (await engine.list(all)).filter((i) => i.type !== 'vm');
  return xs.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}
