import { createHash } from 'node:crypto';
import { HISTORY_LIMIT, type Service, type ServiceSpec, type ServiceStatus } from '../../core/service.js';
import type { AppService } from '../compose/app.js';

/**
 * Revisions: what a replica is made from (its template) is hashed; a change
 * of the template is a new revision and a rolling update, anything else
 * (replicas, update_config, placement, ingress ports, autoscaling) changes
 * the service in place. An undo or an automatic rollback appends a revision
 * with an earlier template, so the history only grows and replicas already
 * running that template are kept, as Kubernetes' pod-template-hash does.
 */
export function templateOf(spec: ServiceSpec, imageId: string) {
  const { update: _u, rollback: _r, placement: _p, endpointMode: _e, autoscale: _a, ports, ...rest } = spec;
  return { ...rest, imageId, hostPorts: ports.filter((p) => p.mode === 'host') };
}

export function templateHash(spec: ServiceSpec, imageId: string): string {
  return createHash('sha256').update(stable(templateOf(spec, imageId))).digest('hex').slice(0, 12);
}

/** JSON with sorted keys: the same template always hashes the same. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export type ApplyChange = 'create' | 'update' | 'scale' | 'config' | 'none';

export interface Applied {
  service: Service;
  change: ApplyChange;
  /** What differs, field by field (`image: a → b`), for `hull diff` and the events. */
  diff: string[];
}

const emptyStatus = (): ServiceStatus => ({ rollout: { state: 'none', from: 0, to: 0, message: '', updatedAt: '' }, vips: {}, publishedPorts: [], message: '' });

/**
 * The stored service after applying one service of a file (pure). An
 * autoscaled service keeps its current replica count while it is inside the
 * file's bounds: the file's `replicas` is where autoscaling starts, not a reset.
 */
export function applyService(cur: Service | undefined, want: AppService & { app: string; imageId: string; id: string }, now: Date): Applied {
  const at = now.toISOString();
  const hash = templateHash(want.spec, want.imageId);
  if (!cur) {
    const service: Service = {
      id: want.id,
      name: want.name,
      app: want.app,
      createdAt: at,
      updatedAt: at,
      revision: 1,
      spec: want.spec,
      replicas: want.replicas,
      history: [{ revision: 1, spec: want.spec, createdAt: at, cause: 'apply', hash, imageId: want.imageId }],
      status: { ...emptyStatus(), rollout: { state: 'progressing', from: 0, to: 1, message: 'creating replicas', updatedAt: at } },
    };
    return { service, change: 'create', diff: [`replicas: ${want.replicas}`, `image: ${want.spec.image || want.spec.vm?.image}`] };
  }
  const a = want.spec.autoscale;
  const replicas = a && cur.replicas >= a.min && cur.replicas <= a.max ? cur.replicas : want.replicas;
  const curHash = cur.history.find((h) => h.revision === cur.revision)?.hash;
  const diff = diffFields(cur.spec, want.spec, '');
  if (cur.replicas !== replicas) diff.unshift(`replicas: ${cur.replicas} → ${replicas}`);
  if (curHash !== hash && !diff.some((d) => d.startsWith('image'))) {
    const imageIdWas = cur.history.find((h) => h.revision === cur.revision)?.imageId;
    if (imageIdWas !== want.imageId) diff.push(`image id: ${short(imageIdWas)} → ${short(want.imageId)} (the tag moved)`);
  }
  if (curHash === hash) {
    if (!diff.length) return { service: cur, change: 'none', diff };
    const history = cur.history.map((h) => (h.revision === cur.revision ? { ...h, spec: want.spec } : h));
    const change: ApplyChange = diff.every((d) => d.startsWith('replicas:')) ? 'scale' : 'config';
    return { service: { ...cur, spec: want.spec, replicas, history, updatedAt: at }, change, diff };
  }
  return { service: newRevision(cur, want.spec, want.imageId, 'apply', now, replicas), change: 'update', diff };
}

/** Append a revision (apply, undo, rollback) and start rolling to it from the last good one. */
export function newRevision(cur: Service, spec: ServiceSpec, imageId: string, cause: string, now: Date, replicas = cur.replicas, rollingBack = false): Service {
  const at = now.toISOString();
  const revision = Math.max(...cur.history.map((h) => h.revision)) + 1;
  const entry = { revision, spec, createdAt: at, cause, hash: templateHash(spec, imageId), imageId };
  const history = [...cur.history, entry].slice(-HISTORY_LIMIT);
  const stable = cur.status.stableRevision ?? (cur.status.rollout.state === 'complete' ? cur.revision : 0);
  const from = rollingBack ? cur.revision : stable;
  const state = rollingBack ? 'rolling-back' : 'progressing';
  const message = rollingBack ? `revision ${cur.revision} failed, rolling back: ${cause}` : `rolling out revision ${revision}`;
  return { ...cur, spec, replicas, revision, history, updatedAt: at, status: { ...cur.status, rollout: { state, from, to: revision, message, updatedAt: at }, message: '' } };
}

const short = (id?: string) => (id ? id.replace(/^sha256:/, '').slice(0, 12) : 'none');

/** Leaf-by-leaf differences between two specs: `env: [A=1] → [A=2]`, `resources.cpus: 0.5 → 1`. */
export function diffFields(a: unknown, b: unknown, path: string): string[] {
  if (stable(a) === stable(b)) return [];
  const isObj = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])];
    return keys.flatMap((k) => diffFields((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
  }
  return [`${path}: ${show(a)} → ${show(b)}`];
}

const show = (v: unknown) => (v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));
