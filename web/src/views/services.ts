import { getJson } from '../api.js';
import { h, link } from '../dom.js';
import { loader, pageFrame } from '../page.js';
import { ofType, type Scope } from '../scope.js';
import { dataTable } from '../table.js';
import type { ServiceSummary } from '../types.js';
import { applyForm } from './apply-form.js';

/** #/services: every service with its replicas ready/desired, and a form that applies a Compose file. */
export function servicesPage(root: HTMLElement, scope: Scope): void {
  const list = h('div');
  const reload = loader(scope, list, () => getJson<ServiceSummary[]>('/v1/services'), serviceTable);
  pageFrame(root, 'Services', 'services').append(applyForm(() => void reload()), list);
  scope.live(ofType('service', 'container', 'vm', 'network'), () => void reload());
  void reload();
}

export const replicasCell = (s: ServiceSummary): HTMLElement =>
  h('span', { class: s.ready >= s.replicas ? 'st st-running' : s.ready === 0 && s.replicas > 0 ? 'st st-failed' : 'st st-paused' }, `${s.ready} / ${s.replicas}`);

function serviceTable(rows: ServiceSummary[]): HTMLElement {
  return dataTable(
    'services-table',
    [
      { title: 'Name', cell: (s) => link(`services/${encodeURIComponent(s.name)}`, s.name, 'link') },
      { title: 'App', cell: (s) => s.app },
      { title: 'Mode', cell: (s) => `${s.kind === 'vm' ? 'vm, ' : ''}${s.mode}` },
      { title: 'Replicas', cell: replicasCell, testid: 'replicas' },
      { title: 'Image', cell: (s) => s.image },
      { title: 'Revision', cell: (s) => `${s.revision}${s.rollout && s.rollout !== 'none' && s.rollout !== 'complete' ? ` (${s.rollout})` : ''}`, testid: 'revision' },
      { title: 'Ports', cell: (s) => s.ports.join(', ') },
      { title: '', cell: (s) => (s.message ? h('span', { class: 'warn', title: s.message }, s.message) : ''), cls: 'clip' },
    ],
    rows,
    (s) => s.name,
    'No services: apply a Compose file above, or with hull apply -f.',
  );
}
