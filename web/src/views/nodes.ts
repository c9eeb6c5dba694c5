import { act, enc, getJson, post } from '../api.js';
import { showError } from '../banner.js';
import { button, h } from '../dom.js';
import { bytes } from '../format.js';
import { loader, pageFrame } from '../page.js';
import { ofType, type Scope } from '../scope.js';
import { parseLabel } from '../parse-label.js';
import { dataTable } from '../table.js';
import type { HullNode } from '../types.js';

/**
 * #/nodes: the hosts replicas are placed on (one on a single host), with
 * each one's availability (a select that applies at once; drain asks first)
 * and its labels (add `key=value`, × removes one). The list re-loads on node
 * events (a change made here, by the CLI or another user), on service and
 * replica events, and with the Refresh button.
 */
export function nodesPage(root: HTMLElement, scope: Scope): void {
  const refresh = button('Refresh', 'refresh', () => reload());
  const body = pageFrame(root, 'Nodes', 'nodes', refresh);
  const reload = loader(scope, body, () => getJson<HullNode[]>('/v1/nodes'), (rows) => nodeTable(rows, () => void reload()));
  scope.live(ofType('node', 'service', 'container', 'vm'), () => void reload());
  void reload();
}

type NodeUpdate = { labelAdd?: Record<string, string>; labelRm?: string[]; availability?: HullNode['availability'] };

const update = (n: HullNode, change: NodeUpdate) => act(() => post<HullNode>(`/v1/nodes/${enc(n.id)}/update`, change));

function nodeTable(rows: HullNode[], reload: () => void): HTMLElement {
  return dataTable(
    'nodes-table',
    [
      { title: 'Hostname', cell: (n) => h('span', { title: n.id }, n.name) },
      { title: 'Status', cell: (n) => h('span', { class: n.status === 'ready' ? 'st st-running' : 'st st-failed' }, n.status), testid: 'status' },
      { title: 'Availability', cell: (n) => availability(n, reload) },
      { title: 'Role', cell: (n) => n.role, testid: 'role' },
      { title: 'CPUs', cell: (n) => String(n.resources.cpus), testid: 'cpus' },
      { title: 'Memory', cell: (n) => bytes(n.resources.memoryBytes), testid: 'memory' },
      { title: 'Engine', cell: (n) => h('span', { title: `kernel ${n.engine.kernel}` }, n.engine.version), testid: 'engine' },
      { title: 'Labels', cell: (n) => labels(n, reload), testid: 'labels' },
    ],
    rows,
    (n) => n.name,
    'No nodes.',
  );
}

const AVAILABILITY: HullNode['availability'][] = ['active', 'pause', 'drain'];

function availability(n: HullNode, reload: () => void): HTMLElement {
  const select = h('select', { testid: 'availability', 'aria-label': `availability of ${n.name}`, class: `avail avail-${n.availability}` }, ...AVAILABILITY.map((a) => h('option', { value: a, selected: a === n.availability }, a)));
  select.addEventListener('change', () => {
    const next = select.value as HullNode['availability'];
    if (next === 'drain' && !confirm(`Drain node "${n.name}"? Its replicas are removed, and placed on other nodes (on one host: they wait until it is active again).`)) {
      select.value = n.availability;
      return;
    }
    select.disabled = true;
    update(n, { availability: next }).then(reload, () => {
      select.value = n.availability;
      select.disabled = false;
    });
  });
  return select;
}

function labels(n: HullNode, reload: () => void): HTMLElement {
  const chips = Object.entries(n.labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => h('span', { class: 'chip', testid: `label-chip-${k}` }, v === '' ? k : `${k}=${v}`, removeLabel(n, k, reload)));
  const input = h('input', { testid: 'label-add', placeholder: 'key=value', autocomplete: 'off', spellcheck: 'false', class: 'label-input', 'aria-label': `add a label to ${n.name}` });
  const add = h('button', { type: 'submit', testid: 'label-add-submit' }, 'Add');
  const form = h('form', { class: 'label-form' }, input, add);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const label = parseLabel(input.value);
    if (typeof label === 'string') return showError(label);
    add.disabled = true;
    update(n, { labelAdd: label })
      .then(reload, () => undefined)
      .finally(() => (add.disabled = false));
  });
  return h('div', { class: 'labels' }, ...chips, form);
}

function removeLabel(n: HullNode, key: string, reload: () => void): HTMLButtonElement {
  const x = button('×', `label-rm-${key}`, () => update(n, { labelRm: [key] }).then(reload), 'chip-x');
  x.title = x.ariaLabel = `remove the label ${key}`;
  return x;
}
