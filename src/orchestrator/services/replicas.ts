import type { Instance } from '../../core/instance.js';
import { REVISION_LABEL, SLOT_LABEL, type Service } from '../../core/service.js';
import type { Phase, ReplicaView } from './plan.js';

/** The label holding a replica's template hash (see revisions.ts). */
export const HASH_LABEL = 'hull.service.hash';

const ms = (iso: string | undefined, dflt: number) => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t : dflt;
};

/**
 * A replica as the planner sees it. A replica whose template is the current
 * revision's counts as the current revision (a rollback finds its replicas
 * already there). A VM or container without a health check is ready once
 * running; with one, once healthy.
 */
export function viewOf(inst: Instance, svc: Service): ReplicaView | undefined {
  const slot = Number(inst.config.labels[SLOT_LABEL]);
  if (!Number.isInteger(slot) || slot < 1 || inst.state.status === 'removing') return undefined;
  const current = svc.history.find((h) => h.revision === svc.revision);
  const rev = Number(inst.config.labels[REVISION_LABEL]) || 0;
  const revision = current && inst.config.labels[HASH_LABEL] === current.hash ? svc.revision : rev === svc.revision ? -1 : rev;
  const createdAt = ms(inst.createdAt, 0);
  const { phase, since } = phaseOf(inst, svc, createdAt);
  return { id: inst.id, name: inst.name, slot, revision, phase, since, createdAt };
}

function phaseOf(inst: Instance, svc: Service, createdAt: number): { phase: Phase; since: number } {
  const s = inst.state;
  switch (s.status) {
    case 'creating':
    case 'created':
      return { phase: 'created', since: createdAt };
    case 'paused':
      return { phase: 'starting', since: ms(s.startedAt, createdAt) };
    case 'running': {
      const started = ms(s.startedAt, createdAt);
      const h = s.health;
      if (!h) return { phase: 'ready', since: started };
      if (h.status === 'healthy') return { phase: 'ready', since: ms(h.since, started) };
      return { phase: h.status === 'unhealthy' ? 'unhealthy' : 'starting', since: started };
    }
    default: {
      if (s.nextRestartAt) return { phase: 'restarting', since: ms(s.finishedAt, createdAt) };
      const completed = s.exitCode === 0 && svc.spec.restart.condition !== 'any';
      return { phase: completed ? 'completed' : 'failed', since: ms(s.finishedAt, createdAt) };
    }
  }
}

/** Ready replicas take traffic; one leaving the rotation (draining) does not. */
export const inRotation = (v: ReplicaView, draining: Set<string>) => v.phase === 'ready' && !draining.has(v.id);
