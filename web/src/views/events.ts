import { h } from '../dom.js';
import { EVENT_CAP, onEvent, recentEvents } from '../events.js';
import { pageFrame } from '../page.js';
import type { Scope } from '../scope.js';
import type { HullEvent } from '../types.js';

/**
 * #/events: the shared stream's events, newest first, at most 500 (from 10
 * minutes before the page opened, then live). Each row is
 * data-testid="event", with data-type and data-action.
 */
export function eventsPage(root: HTMLElement, scope: Scope): void {
  const body = pageFrame(root, 'Events', 'events');
  const tbody = h('tbody', {}, ...recentEvents().map(eventRow));
  const head = h('thead', {}, h('tr', {}, ...['Time', 'Type', 'Action', 'Name', 'ID', 'Attributes'].map((t) => h('th', {}, t))));
  body.append(h('table', { class: 'data', testid: 'events-table' }, head, tbody));
  scope.add(
    onEvent((ev) => {
      tbody.prepend(eventRow(ev));
      while (tbody.childElementCount > EVENT_CAP) tbody.lastElementChild?.remove();
    }),
  );
}

function eventRow(ev: HullEvent): HTMLElement {
  const attrs = ev.Actor?.Attributes ?? {};
  const rest = Object.entries(attrs).filter(([k]) => k !== 'name');
  const time = new Date(ev.timeNano ? ev.timeNano / 1e6 : ev.time * 1000);
  const row = h(
    'tr',
    { testid: 'event' },
    h('td', { class: 'nowrap' }, time.toLocaleTimeString()),
    h('td', {}, ev.Type),
    h('td', {}, ev.Action),
    h('td', {}, attrs.name ?? ''),
    h('td', {}, h('code', {}, (ev.Actor?.ID ?? '').slice(0, 12))),
    h('td', { class: 'clip muted' }, rest.map(([k, v]) => `${k}=${v}`).join(' ')),
  );
  row.dataset.type = ev.Type;
  row.dataset.action = ev.Action;
  return row;
}
