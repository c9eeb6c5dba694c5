import type { EventMessage } from '../core/events.js';
import { allLabels, anyOf, type Filters } from './filters.js';

/**
 * `events --filter`, as docker's daemon matches them: type, event (the
 * action; `exec_create` also matches `exec_create: sh -c …`), container (a
 * container's or a VM's name or id), image, network, label, and Hull's vm
 * and service (a service's own events, and its replicas', by the service's name or id).
 */
export const EVENT_FILTERS = ['type', 'event', 'container', 'vm', 'image', 'network', 'label', 'scope', 'service'] as const;

const isInstance = (ev: EventMessage) => ev.Type === 'container' || ev.Type === 'vm';
const idOrName = (v: string, ev: EventMessage) => ev.Actor.ID === v || ev.Actor.Attributes.name === v || (v.length >= 3 && ev.Actor.ID.startsWith(v));

export function eventFilter(f: Filters): (ev: EventMessage) => boolean {
  return (ev) =>
    anyOf(f, 'type', (v) => ev.Type === v) &&
    anyOf(f, 'event', (v) => ev.Action === v || ev.Action.startsWith(`${v}:`)) &&
    anyOf(f, 'scope', (v) => v === ev.scope) &&
    anyOf(f, 'container', (v) => isInstance(ev) && idOrName(v, ev)) &&
    anyOf(f, 'vm', (v) => ev.Type === 'vm' && idOrName(v, ev)) &&
    anyOf(f, 'network', (v) => ev.Type === 'network' && idOrName(v, ev)) &&
    anyOf(f, 'image', (v) => imageMatches(v, ev)) &&
    allLabels(f, ev.Actor.Attributes) &&
    anyOf(f, 'service', (v) => (ev.Type === 'service' && idOrName(v, ev)) || (isInstance(ev) && ev.Actor.Attributes['hull.service'] === v));
}

/** An image's own events by name or id; a container's by the image it runs. */
function imageMatches(v: string, ev: EventMessage): boolean {
  const names = (s: string | undefined) => (s ? [s, s.replace(/:latest$/, '')] : []);
  const hex = v.replace(/^sha256:/, '');
  if (ev.Type === 'image') return [...names(ev.Actor.ID), ...names(ev.Actor.Attributes.name)].includes(v) || (/^[0-9a-f]{3,64}$/.test(hex) && ev.Actor.ID.startsWith(`sha256:${hex}`));
  return isInstance(ev) && names(ev.Actor.Attributes.image).includes(v);
}
