/**
 * Hull's web dashboard: plain DOM and TypeScript, hash routing
 * (`#/containers/NAME`), one shared events stream that keeps every page live.
 *
 * Test hooks (data-testid):
 *   nav-overview, nav-containers, nav-vms, nav-services, nav-nodes,
 *   nav-images, nav-networks, nav-volumes, nav-events   the top bar's links
 *   version                                 "Hull 0.1.0" in the top bar
 *   live                                    the events stream's state (data-live="1" when connected)
 *   error                                   the error banner (also "Not signed in: …")
 *   page-<name>                             each page's root: page-overview, page-containers,
 *                                           page-container-detail, page-vm-detail, page-service-detail, …
 *   load-error                              a page part that failed to load
 *   <kind>-table, row-<name>, empty         tables (containers-table, vms-table, services-table,
 *                                           nodes-table, images-table, networks-table, volumes-table,
 *                                           replicas-table), their rows, the empty-table row
 *                                           (nodes' rows are row-<hostname>)
 *   status, ports, replicas, revision, node cells of a row (node: a replica's node's name)
 *   role, cpus, memory, engine, labels      a node row's cells
 *   link                                    the name link in a row
 *   action-start, action-stop, action-restart, action-unpause, action-remove,
 *   action-scale, action-rollback           action buttons (in a row, or a detail page's header)
 *   run-form, run-image, run-name, run-cmd, run-ports, run-tty, run-detach, run-submit
 *   vm-form, vm-name, vm-image, vm-memory, vm-cpus, vm-submit
 *   pull-form, pull-ref, pull-submit, pull-progress, pull-status
 *   apply-form, apply-yaml, apply-app, apply-diff, apply-submit, apply-result,
 *   apply-change (with data-change: create, update, …, and data-name)   the Services page's Compose form
 *   availability                            a node's select (active, pause, drain; drain asks first)
 *   label-add, label-add-submit, label-chip-<key>, label-rm-<key>   a node's labels: add key=value, a chip, its ×
 *   count-<page>                            Overview's cards (count-containers, count-nodes, …); host-facts
 *   facts, fact-id, fact-state, fact-exit-code   a detail page's facts
 *   stats, stat-cpu, stat-memory, stat-pids the Resources panel
 *   terminal-panel, open-shell, open-attach, close-terminal,
 *   terminal, terminal-status               the console (xterm's box is "terminal")
 *   logs-panel, logs, logs-state, logs-clear
 *   scale-input                             a service's replicas field
 *   events-table, event (rows, with data-type and data-action)
 *   refresh                                 Volumes' and Nodes' refresh button
 */
import '@xterm/xterm/css/xterm.css';
import '../style.css';
import { getJson } from './api.js';
import { bannerElement, clearError } from './banner.js';
import { h } from './dom.js';
import { onStreamState, startEvents } from './events.js';
import { Scope } from './scope.js';
import { takeTokenFromLink } from './session.js';
import type { Version } from './types.js';
import { containersPage } from './views/containers.js';
import { eventsPage } from './views/events.js';
import { imagesPage } from './views/images.js';
import { instancePage } from './views/instance-detail.js';
import { networksPage } from './views/networks.js';
import { nodesPage } from './views/nodes.js';
import { overviewPage } from './views/overview.js';
import { servicePage } from './views/service-detail.js';
import { servicesPage } from './views/services.js';
import { vmsPage } from './views/vms.js';
import { volumesPage } from './views/volumes.js';

type Page = (root: HTMLElement, scope: Scope, param: string) => void;

const PAGES: Array<[string, string, Page, Page?]> = [
  ['overview', 'Overview', overviewPage],
  ['containers', 'Containers', containersPage, (r, s, p) => instancePage(r, s, p, 'container')],
  ['vms', 'VMs', vmsPage, (r, s, p) => instancePage(r, s, p, 'vm')],
  ['services', 'Services', servicesPage, servicePage],
  ['nodes', 'Nodes', nodesPage],
  ['images', 'Images', imagesPage],
  ['networks', 'Networks', networksPage],
  ['volumes', 'Volumes', volumesPage],
  ['events', 'Events', eventsPage],
];

const main = h('main', { class: 'content' });
const navLinks = PAGES.map(([id, title]) => h('a', { href: `#/${id}`, testid: `nav-${id}` }, title));
const version = h('span', { class: 'version', testid: 'version' }, 'Hull');
const live = h('span', { class: 'live', testid: 'live', title: 'live updates' });
let current: Scope | undefined;

function route(): void {
  current?.dispose();
  current = new Scope();
  clearError();
  const [page = 'overview', ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const param = safeDecode(rest.join('/'));
  const entry = PAGES.find(([id]) => id === page) ?? PAGES[0];
  navLinks.forEach((a, i) => a.classList.toggle('active', PAGES[i] === entry));
  const view = param && entry[3] ? entry[3] : entry[2];
  view(main, current, param);
  document.title = `${param || entry[1]} · Hull`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function boot(): void {
  takeTokenFromLink();
  const bar = h('header', { class: 'topbar' }, h('a', { class: 'brand', href: '#/overview' }, version), h('nav', {}, ...navLinks), h('span', { class: 'spacer' }), live);
  document.body.append(bar, bannerElement(), main);
  onStreamState((up) => {
    live.dataset.live = up ? '1' : '0';
    live.textContent = up ? '● live' : '○ reconnecting';
  });
  void getJson<Version>('/v1/version').then((v) => (version.textContent = `Hull ${v.version}`)).catch(() => undefined);
  window.addEventListener('hashchange', route);
  route();
  void startEvents();
}

boot();
