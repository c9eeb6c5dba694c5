import { invalid, notFound } from '../core/errors.js';
import type { Image } from '../core/image.js';
import type { Instance } from '../core/instance.js';
import { dockerStatus } from './docker-view/container.js';
import { allLabels, anyOf, nameMatches, type Filters } from './filters.js';

/**
 * `ps --filter`, as docker's daemon applies it to the container list:
 * name, label, status, ancestor, network, id, before, since, exited, and
 * Hull's isolation (container, vm) and type (container, vm). Values of one
 * filter are alternatives, but every label given must match (as docker's);
 * different filters must all match.
 */
export const CONTAINER_FILTERS = ['name', 'label', 'status', 'ancestor', 'network', 'id', 'before', 'since', 'exited', 'isolation', 'type'] as const;

const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

export function containerFilter(f: Filters, all: Instance[], images: Image[]): (i: Instance) => boolean {
  for (const s of f.get('status') ?? []) if (!STATUSES.includes(s)) throw invalid(`invalid filter 'status=${s}': use ${STATUSES.join(', ')}`);
  for (const c of f.get('exited') ?? []) if (!/^-?\d+$/.test(c)) throw invalid(`invalid filter 'exited=${c}': an exit code`);
  const before = bound(f, 'before', all);
  const since = bound(f, 'since', all);
  const ancestors = (f.get('ancestor') ?? []).map((ref) => ancestorIds(ref, images));
  return (i) =>
    anyOf(f, 'name', (v) => nameMatches(v, i.name)) &&
    allLabels(f, i.config.labels) &&
    anyOf(f, 'status', (v) => dockerStatus(i.state.status) === v) &&
    anyOf(f, 'id', (v) => i.id.startsWith(v.toLowerCase())) &&
    anyOf(f, 'network', (v) => (i.config.networks ?? []).some((a) => a.network === v || a.networkId === v || (v.length >= 3 && a.networkId.startsWith(v)))) &&
    anyOf(f, 'exited', (v) => i.state.status === 'exited' && i.state.exitCode === Number(v)) &&
    anyOf(f, 'isolation', (v) => (i.type === 'vm' || i.config.isolation === 'vm' ? 'vm' : 'container') === v) &&
    anyOf(f, 'type', (v) => i.type === v) &&
    (!ancestors.length || ancestors.some((ids) => ids.has(i.config.imageId) || i.config.image === [...ids][0])) &&
    (before === undefined || i.createdAt < before) &&
    (since === undefined || i.createdAt > since);
}

/** `before=` / `since=` name a container; the bound is its creation time. */
function bound(f: Filters, key: 'before' | 'since', all: Instance[]): string | undefined {
  const ref = f.get(key)?.[0];
  if (ref === undefined) return undefined;
  const c = all.find((i) => i.name === ref || i.id === ref) ?? (/^[0-9a-f]{3,}$/.test(ref) ? all.find((i) => i.id.startsWith(ref)) : undefined);
  if (!c) throw notFound(`container "${ref}" (in filter ${key})`);
  return c.createdAt;
}

/**
 * The image `ref` names and every image built on it (its layers are the
 * start of theirs), as docker's ancestor filter: by name, id or id prefix.
 */
function ancestorIds(ref: string, images: Image[]): Set<string> {
  const name = ref.includes(':') || ref.includes('@') ? ref : `${ref}:latest`;
  const hex = ref.replace(/^sha256:/, '');
  const base = images.find((i) => i.tags.includes(name) || i.tags.includes(ref) || i.id === ref || (/^[0-9a-f]{3,64}$/.test(hex) && i.id.startsWith(`sha256:${hex}`)));
  if (!base) return new Set([ref]);
  const under = (i: Image) => base.diffIds.length <= i.diffIds.length && base.diffIds.every((d, n) => i.diffIds[n] === d);
  return new Set([base.id, ...images.filter(under).map((i) => i.id)]);
}
