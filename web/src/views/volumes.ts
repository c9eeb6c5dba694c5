import { act, del, enc, getJson } from '../api.js';
import { button, h } from '../dom.js';
import { ago, bytes } from '../format.js';
import { loader, pageFrame } from '../page.js';
import { ofType, type Scope } from '../scope.js';
import { dataTable } from '../table.js';
import type { VolumeSummary } from '../types.js';

/**
 * #/volumes: volumes with remove. Volumes have no events of their own; the
 * list re-loads on container and VM events (which make and free them) and
 * with the Refresh button.
 */
export function volumesPage(root: HTMLElement, scope: Scope): void {
  const refresh = button('Refresh', 'refresh', () => reload());
  const body = pageFrame(root, 'Volumes', 'volumes', refresh);
  const reload = loader(scope, body, () => getJson<VolumeSummary[]>('/v1/volumes'), (rows) => table(rows, () => void reload()));
  scope.live(ofType('container', 'vm'), () => void reload());
  void reload();
}

function table(rows: VolumeSummary[], reload: () => void): HTMLElement {
  return dataTable(
    'volumes-table',
    [
      { title: 'Name', cell: (v) => (v.anonymous ? h('span', { class: 'muted', title: 'anonymous' }, v.name) : v.name), cls: 'clip' },
      { title: 'Driver', cell: (v) => v.driver },
      { title: 'Size', cell: (v) => bytes(v.sizeBytes) },
      { title: 'Created', cell: (v) => ago(v.createdAt) },
      { title: '', cell: (v) => button('Remove', 'action-remove', () => remove(v.name).then(reload), 'danger'), cls: 'right' },
    ],
    rows,
    (v) => v.name,
    'No volumes.',
  );
}

async function remove(name: string): Promise<void> {
  if (confirm(`Remove volume "${name}"?`)) await act(() => del(`/v1/volumes/${enc(name)}`));
}
