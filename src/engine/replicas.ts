import { isHullError } from '../core/errors.js';
import type { Instance, RestartPolicySpec } from '../core/instance.js';
import { APP_LABEL, REVISION_LABEL, SERVICE_LABEL, SLOT_LABEL, type ServiceSpec } from '../core/service.js';
import type { ImageService } from '../image/image-service.js';
import type { ReplicaOps, ReplicaRequest } from '../orchestrator/services/ports.js';
import { HASH_LABEL } from '../orchestrator/services/replicas.js';
import type { Store } from '../store/store.js';
import { CreateOptionsSchema } from './create-options.js';
import type { Engine } from './engine.js';
import { parse } from './records.js';

/**
 * Replicas are ordinary instances, made through the engine's own create
 * paths (so limits, security defaults, networks and names are checked the
 * same way as `hull run`), owned by their service from the first record on,
 * and started at once. A missing image is pulled as `hull run` does; one that
 * cannot start is removed again, so the service's back-off, not a pile of
 * dead replicas, says why.
 */
export function replicaOps(engine: Engine, store: Store, images: ImageService): ReplicaOps {
  const owned = async (pred: (i: Instance) => boolean) => (await store.list<Instance>('instance')).filter(pred);
  return {
    owned: (id) => owned((i) => i.owner?.id === id),
    allOwned: () => owned((i) => i.owner !== undefined),

    async create(r: ReplicaRequest): Promise<Instance> {
      const spec = r.revision.spec;
      const labels = { ...spec.labels, [SERVICE_LABEL]: r.service.name, [APP_LABEL]: r.service.app, [SLOT_LABEL]: String(r.slot), [REVISION_LABEL]: String(r.revision.revision), [HASH_LABEL]: r.revision.hash };
      const placed = { owner: { kind: 'service' as const, id: r.service.id, name: r.service.name }, node: r.node, restart: restartOf(spec) };
      const networks = spec.networks.map((n) => n.name);
      let inst: Instance;
      if (spec.kind === 'vm') {
        const v = spec.vm!;
        inst = await engine.createVm(
          { name: r.name, image: v.image, labels, networks, cpus: spec.resources.cpus, memoryBytes: spec.resources.memoryBytes, diskBytes: v.diskBytes, userScript: v.userScript },
          { ...placed, ...(spec.healthcheck ? { healthcheck: spec.healthcheck } : {}) },
        );
      } else {
        await pullIfMissing(images, spec.image);
        const o = parse(
          CreateOptionsSchema,
          {
            name: r.name,
            image: spec.image,
            ...(spec.command ? { cmd: spec.command } : {}),
            ...(spec.entrypoint ? { entrypoint: spec.entrypoint } : {}),
            env: spec.env,
            workingDir: spec.workingDir ?? '',
            user: spec.user ?? '',
            tty: spec.tty,
            openStdin: spec.stdinOpen,
            memoryBytes: spec.resources.memoryBytes,
            cpus: spec.resources.cpus,
            pidsLimit: spec.resources.pidsLimit,
            labels,
            networks,
            ports: spec.ports.filter((p) => p.mode === 'host').map((p) => ({ hostIp: p.hostIp, hostPort: p.published, containerPort: p.target, protocol: p.protocol })),
            isolation: spec.isolation,
            // Named volumes are made on first use and outlive the replica (and the app); a replica's anonymous ones go with it.
            mounts: spec.mounts.map((m) => ({ type: m.type, source: m.source, target: m.target, readOnly: m.readOnly })),
            ...(spec.healthcheck === null ? { healthcheck: 'none' as const } : spec.healthcheck ? { healthcheck: spec.healthcheck } : {}),
          },
          `replica of ${r.service.name}`,
        );
        inst = await engine.createContainer(o, placed);
      }
      try {
        return await engine.instances.start(inst.id);
      } catch (e) {
        await engine.instances.remove(inst.id, true).catch(() => undefined);
        throw e;
      }
    },

    async remove(id: string, s: Pick<ServiceSpec, 'stopSignal' | 'stopGracePeriodMs'>): Promise<void> {
      const inst = await store.get<Instance>('instance', id);
      if (!inst) return;
      if (inst.state.status === 'running' || inst.state.status === 'paused') {
        await engine.instances.stop(id, Math.ceil(s.stopGracePeriodMs / 1000), s.stopSignal).catch((e) => {
          if (!isHullError(e, 'not_found')) throw e;
        });
      }
      await engine.instances.remove(id, true, true);
    },

    async restart(id: string): Promise<void> {
      const inst = await store.get<Instance>('instance', id);
      if (inst && inst.state.status === 'running') await engine.instances.kill(inst, 'SIGKILL', true);
    },

    async cpu(id: string) {
      const inst = await store.get<Instance>('instance', id);
      if (!inst || inst.state.status !== 'running') return { usageNs: 0, limit: 0 };
      const st = await engine.stats(id);
      return { usageNs: st.cpuUsageNs, limit: inst.config.resources.cpus ?? 0 };
    },
  };
}

/** A service's restart_policy as the instance's: `any` always, with the service's back-off (1 s doubling to 30 s, reset after 10 min). */
function restartOf(spec: ServiceSpec): RestartPolicySpec {
  const r = spec.restart;
  const backoff = { delayMs: r.delayMs, maxDelayMs: r.maxDelayMs, windowMs: r.windowMs };
  if (r.condition === 'none') return { name: 'no' };
  if (r.condition === 'on-failure') return { name: 'on-failure', ...(r.maxAttempts ? { maxRetries: r.maxAttempts } : {}), ...backoff };
  return { name: 'always', ...backoff };
}

async function pullIfMissing(images: ImageService, ref: string): Promise<void> {
  try {
    await images.resolve(ref);
  } catch (e) {
    if (!isHullError(e, 'not_found')) throw e;
    await images.registry.pull(ref, {}).catch((err: unknown) => {
      throw isHullError(err) ? err.wrap(`image "${ref}" is not here and could not be pulled`) : err;
    });
  }
}
