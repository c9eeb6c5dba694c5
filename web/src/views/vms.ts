import { getJson } from '../api.js';
import { instanceActions } from '../actions.js';
import { h, link } from '../dom.js';
import { ago } from '../format.js';
import { loader, pageFrame } from '../page.js';
import { ofType, type Scope } from '../scope.js';
import { dataTable } from '../table.js';
import type { ContainerSummary } from '../types.js';
import { statusCell } from './containers.js';
import { vmForm } from './vm-form.js';

/** #/vms: every VM with lifecycle actions, and a Create VM form. */
export function vmsPage(root: HTMLElement, scope: Scope): void {
  const list = h('div');
  const reload = loader(scope, list, () => getJson<ContainerSummary[]>('/v1/vms?all=1'), (vms) => vmTable(vms, () => void reload()));
  pageFrame(root, 'Virtual machines', 'vms').append(vmForm(() => void reload()), list);
  scope.live(ofType('vm', 'container'), () => void reload());
  void reload();
}

function vmTable(rows: ContainerSummary[], reload: () => void): HTMLElement {
  return dataTable(
    'vms-table',
    [
      { title: 'Name', cell: (v) => link(`vms/${encodeURIComponent(v.name)}`, v.name, 'link') },
      { title: 'Image', cell: (v) => v.image },
      { title: 'Status', cell: statusCell, testid: 'status' },
      { title: 'Created', cell: (v) => ago(v.createdAt) },
      { title: 'Started', cell: (v) => (v.status === 'running' ? ago(v.startedAt) : '') },
      { title: '', cell: (v) => instanceActions(v, reload), cls: 'right' },
    ],
    rows,
    (v) => v.name,
    'No VMs yet: create one above, or with hull vm create.',
  );
}
