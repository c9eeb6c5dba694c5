import { act, del, enc, getJson, post } from '../api.js';
import { button, fill, h, link } from '../dom.js';
import { ago, statusClass } from '../format.js';
import { loader } from '../page.js';
import { ofType, type Scope } from '../scope.js';
import { dataTable } from '../table.js';
import type { ReplicaRow, ServiceDetail } from '../types.js';
import { replicasCell } from './services.js';

/**
 * #/services/REF: the service's facts, a Scale control (data-testid
 * "scale-input", "action-scale"), Rollback ("action-rollback"), Remove, and
 * its replicas (GET …/replicas), each linking to its instance's page.
 */
export function servicePage(root: HTMLElement, scope: Scope, ref: string): void {
  const head = h('div', { class: 'page-head' });
  const body = h('div');
  fill(root, h('div', { class: 'page', testid: 'page-service-detail' }, head, body));
  const reload = loader(scope, body, () => Promise.all([getJson<ServiceDetail>(`/v1/services/${enc(ref)}`), getJson<ReplicaRow[]>(`/v1/services/${enc(ref)}/replicas`)]), ([svc, replicas]) => {
    fill(head, h('h1', {}, link('services', 'Services'), ' / ', svc.name), replicasCell(svc), h('span', { class: 'spacer' }), controls(svc, () => void reload()));
    return h('div', {}, facts(svc), h('section', { class: 'panel' }, h('h2', {}, 'Replicas'), replicaTable(replicas)));
  });
  scope.live(ofType('service', 'container', 'vm'), () => void reload());
  void reload();
}

function controls(svc: ServiceDetail, reload: () => void): HTMLElement {
  const input = h('input', { type: 'number', min: 0, max: 1000, value: svc.replicas, testid: 'scale-input', class: 'narrow', 'aria-label': 'replicas' });
  const scale = button('Scale', 'action-scale', () => act(() => post(`/v1/services/${enc(svc.name)}/scale`, { replicas: Number(input.value) })).then(reload));
  const rollback = button('Rollback', 'action-rollback', () => (confirm(`Roll "${svc.name}" back to its previous revision?`) ? act(() => post(`/v1/services/${enc(svc.name)}/rollback`, {})).then(reload) : undefined));
  const remove = button('Remove', 'action-remove', () => (confirm(`Remove service "${svc.name}" and all its replicas?`) ? act(() => del(`/v1/services/${enc(svc.name)}`)).then(() => (location.hash = '#/services')) : undefined), 'danger');
  return h('div', { class: 'actions' }, input, scale, rollback, remove);
}

function facts(svc: ServiceDetail): HTMLElement {
  const rows: Array<[string, string]> = [
    ['App', svc.app],
    ['Image', svc.image],
    ['Kind', `${svc.kind}${svc.isolation === 'vm' && svc.kind === 'container' ? ' (VM-isolated)' : ''}`],
    ['Mode', svc.mode],
    ['Revision', `${svc.revision} (${svc.rollout})`],
    ['Ports', svc.ports.join(', ')],
    ['Addresses', Object.entries(svc.vips ?? {}).map(([n, a]) => `${n}: ${a}`).join(', ')],
    ['Message', svc.message],
  ];
  const dl = h('dl', { class: 'facts', testid: 'facts' });
  for (const [k, v] of rows) if (v) dl.append(h('dt', {}, k), h('dd', {}, v));
  return h('section', { class: 'panel' }, h('h2', {}, 'Details'), dl);
}

function replicaTable(rows: ReplicaRow[]): HTMLElement {
  const page = (r: ReplicaRow) => (r.kind === 'vm' ? 'vms' : 'containers');
  return dataTable(
    'replicas-table',
    [
      { title: 'Slot', cell: (r) => String(r.slot) },
      { title: 'Name', cell: (r) => link(`${page(r)}/${encodeURIComponent(r.name)}`, r.name, 'link') },
      { title: 'Revision', cell: (r) => String(r.revision) },
      { title: 'State', cell: (r) => h('span', { class: statusClass(r.state, r.exitCode, r.health === 'none' ? '' : r.health) }, `${r.state}${r.health !== 'none' ? ` (${r.health})` : ''}`), testid: 'status' },
      { title: 'Ready', cell: (r) => (r.ready ? 'yes' : r.draining ? 'draining' : 'no') },
      { title: 'Node', cell: (r) => r.node, testid: 'node' },
      { title: 'Addresses', cell: (r) => Object.values(r.addresses ?? {}).join(', ') },
      { title: 'Restarts', cell: (r) => String(r.restarts) },
      { title: 'Started', cell: (r) => ago(r.startedAt) },
      { title: 'Error', cell: (r) => r.error, cls: 'clip' },
    ],
    rows,
    (r) => r.name,
    'No replicas.',
  );
}
