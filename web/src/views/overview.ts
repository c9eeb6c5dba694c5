import { getJson } from '../api.js';
import { h, link } from '../dom.js';
import { bytes } from '../format.js';
import { loader, pageFrame } from '../page.js';
import type { Scope } from '../scope.js';
import type { ContainerSummary, HullNode, ImageSummary, Info, NetworkSummary, ServiceSummary, VolumeSummary } from '../types.js';

/** #/ (Overview): counts of each kind (links to their pages) and the host's facts. */
export function overviewPage(root: HTMLElement, scope: Scope): void {
  const body = pageFrame(root, 'Overview', 'overview');
  const reload = loader(scope, body, loadAll, render);
  scope.live(() => true, () => void reload());
  void reload();
}

const loadAll = () =>
  Promise.all([
    getJson<Info>('/v1/info'),
    getJson<ContainerSummary[]>('/v1/containers?all=1'),
    getJson<ServiceSummary[]>('/v1/services'),
    getJson<ImageSummary[]>('/v1/images'),
    getJson<NetworkSummary[]>('/v1/networks'),
    getJson<VolumeSummary[]>('/v1/volumes'),
    getJson<HullNode[]>('/v1/nodes'),
  ]);

function render([info, instances, services, images, networks, volumes, nodes]: Awaited<ReturnType<typeof loadAll>>): HTMLElement {
  const containers = instances.filter((i) => i.type === 'container');
  const vms = instances.filter((i) => i.type === 'vm');
  const running = (l: ContainerSummary[]) => l.filter((i) => i.status === 'running').length;
  const card = (page: string, title: string, value: string) => h('a', { class: 'card', href: `#/${page}`, testid: `count-${page}` }, h('div', { class: 'card-value' }, value), h('div', { class: 'card-title' }, title));
  const cards = h(
    'div',
    { class: 'cards' },
    card('containers', 'Containers running', `${running(containers)} / ${containers.length}`),
    card('vms', 'VMs running', `${running(vms)} / ${vms.length}`),
    card('services', 'Services', String(services.length)),
    card('nodes', 'Nodes ready', `${nodes.filter((n) => n.status === 'ready').length} / ${nodes.length}`),
    card('images', 'Images', String(images.length)),
    card('networks', 'Networks', String(networks.length)),
    card('volumes', 'Volumes', String(volumes.length)),
  );
  const facts: Array<[string, string]> = [
    ['Host', info.hostname],
    ['System', `${info.os}/${info.arch}, kernel ${info.kernel}`],
    ['CPUs', String(info.ncpu)],
    ['Memory', bytes(info.memTotal)],
    ['Cgroups', info.cgroupMode],
    ['Runtime', info.defaultRuntime],
    ['KVM', info.kvm ? 'yes' : 'no (VMs run under TCG)'],
    ['Storage', info.storage.filesystem],
    ['State', `${info.root}${info.store ? ` (${info.store.kind})` : ''}`],
    ['Daemon', `Hull ${info.version}, ${bytes(info.daemonRss)} resident`],
  ];
  const dl = h('dl', { class: 'facts', testid: 'host-facts' });
  for (const [k, v] of facts) dl.append(h('dt', {}, k), h('dd', {}, v));
  return h('div', {}, cards, h('section', { class: 'panel' }, h('h2', {}, 'Host'), dl), h('p', { class: 'muted' }, 'Recent activity: ', link('events', 'Events')));
}
