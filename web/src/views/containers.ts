import { getJson } from '../api.js';
import { instanceActions } from '../actions.js';
import { h, link } from '../dom.js';
import { ago, ports, statusClass, statusText } from '../format.js';
import { loader, pageFrame } from '../page.js';
import { ofType, type Scope } from '../scope.js';
import { dataTable } from '../table.js';
import type { ContainerSummary } from '../types.js';
import { runForm } from './run-form.js';

/** #/containers: every container (not VMs), with lifecycle actions and the Run form. */
export function containersPage(root: HTMLElement, scope: Scope): void {
  const list = h('div');
  const reload = loader(scope, list, () => getJson<ContainerSummary[]>('/v1/containers?all=1'), (all) => containerTable(all.filter((c) => c.type === 'container'), () => void reload()));
  const body = pageFrame(root, 'Containers', 'containers');
  body.append(runForm(() => void reload()), list);
  scope.live(ofType('container', 'network'), () => void reload());
  void reload();
}

export const statusCell = (c: { status: string; exitCode: number; health?: string; stoppedByUser?: boolean }): HTMLElement => {
  const stopped = c.status === 'exited' && !!c.stoppedByUser;
  return h('span', { class: statusClass(c.status, c.exitCode, c.health, stopped), title: stopped ? 'stopped by a user' : undefined }, statusText(c.status, c.exitCode, c.health));
};

function containerTable(rows: ContainerSummary[], reload: () => void): HTMLElement {
  return dataTable(
    'containers-table',
    [
      { title: 'Name', cell: (c) => link(`containers/${encodeURIComponent(c.name)}`, c.name, 'link') },
      { title: 'Image', cell: (c) => c.image },
      { title: 'Command', cell: (c) => h('code', {}, c.command), cls: 'clip' },
      { title: 'Status', cell: statusCell, testid: 'status' },
      { title: 'Ports', cell: (c) => ports(c.ports), testid: 'ports' },
      { title: 'Created', cell: (c) => ago(c.createdAt) },
      { title: '', cell: (c) => instanceActions(c, reload), cls: 'right' },
    ],
    rows,
    (c) => c.name,
    'No containers yet: run one above, or with hull run.',
  );
}
