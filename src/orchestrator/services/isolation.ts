import type { AppService } from '../compose/app.js';

/**
 * `x-hull: { isolation: auto }`: the container/VM trade-off as a rule. A
 * service runs in a VM when it needs a kernel or OS of its own (a VM image),
 * is marked untrusted (a VM-isolated container: the image's program behind a
 * guest kernel), or asks for guaranteed resources (reservations equal to its
 * limits: a VM's memory and vCPUs are its own, not shared with the host's
 * page cache and scheduler); anything else runs as a container, which starts
 * in milliseconds and costs a few MiB. `service inspect` shows the answer and
 * the reason.
 */
export function decideIsolation(s: AppService): { isolation: 'container' | 'vm'; reason: string } {
  const spec = s.spec;
  if (spec.kind === 'vm') return { isolation: 'vm', reason: 'a VM image: it boots its own kernel' };
  if (!s.autoIsolation) {
    return spec.isolation === 'vm' ? { isolation: 'vm', reason: 'asked for (isolation: vm)' } : { isolation: 'container', reason: 'asked for (isolation: container, the default)' };
  }
  if (s.untrusted) return { isolation: 'vm', reason: 'auto: marked untrusted, so its program runs behind a guest kernel' };
  const r = spec.resources;
  const guaranteed = r.cpus !== undefined && r.memoryBytes !== undefined && r.reserveCpus === r.cpus && r.reserveMemoryBytes === r.memoryBytes;
  if (guaranteed) return { isolation: 'vm', reason: 'auto: guaranteed resources (reservations equal limits) are a VM’s own memory and vCPUs' };
  return { isolation: 'container', reason: 'auto: trusted, no kernel of its own and no guaranteed resources asked: a container' };
}
