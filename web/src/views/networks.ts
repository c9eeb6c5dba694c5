import { act, del, enc, getJson } from '../api.js';
import { button, h } from '../dom.js';
import { ago } from '../format.js';
import { loader, pageFrame } from '../page.js';
import { ofType, type Scope } from '../scope.js';
import { dataTable } from '../table.js';
import type { NetworkSummary } from '../types.js';

/** #/networks: bridge networks with their subnet and users; remove (not the default one). */
export function networksPage(root: HTMLElement, scope: Scope): void {
  const body = pageFrame(root, 'Networks', 'networks');
  const reload = loader(scope, body, () => getJson<NetworkSummary[]>('/v1/networks'), (rows) => table(rows, () => void reload()));
  scope.live(ofType('network'), () => void reload());
  void reload();
}

function table(rows: NetworkSummary[], reload: () => void): HTMLElement {
  return dataTable(
    'networks-table',
    [
      { title: 'Name', cell: (n) => `${n.name}${n.isDefault ? ' (default)' : ''}` },
      { title: 'Driver', cell: (n) => n.driver },
      { title: 'Subnet', cell: (n) => n.subnet },
      { title: 'Gateway', cell: (n) => n.gateway },
      { title: 'Internal', cell: (n) => (n.internal ? 'yes' : '') },
      { title: 'Containers', cell: (n) => String(n.containers), testid: 'containers' },
      { title: 'Created', cell: (n) => ago(n.createdAt) },
      { title: '', cell: (n) => (n.isDefault ? '' : button('Remove', 'action-remove', () => remove(n.name).then(reload), 'danger')), cls: 'right' },
    ],
    rows,
    (n) => n.name,
    'No networks.',
  );
}

async function remove(name: string): Promise<void> {
  if (confirm(`Remove network "${name}"?`)) await act(() => del(`/v1/networks/${enc(name)}`));
}
