import { getJson, enc } from '../api.js';
import { instanceActions } from '../actions.js';
import { type Child, fill, h, link } from '../dom.js';
import { ago, bytes, ports, shellJoin } from '../format.js';
import { loader } from '../page.js';
import { Scope } from '../scope.js';
import type { HullEvent, Instance } from '../types.js';
import { statusCell } from './containers.js';
import { consolePanel } from './console-panel.js';
import { logsPanel } from './logs-panel.js';
import { statsPanel } from './stats-panel.js';

/**
 * #/containers/REF and #/vms/REF: one instance's facts and actions, its
 * resources, a Terminal panel and its Logs. Facts re-load on the instance's
 * events; the live panels (terminal, logs, stats) are rebuilt when it
 * starts or stops, so a started container's new output follows.
 */
export function instancePage(root: HTMLElement, scope: Scope, ref: string, kind: 'container' | 'vm'): void {
  const head = h('div', { class: 'page-head' });
  const facts = h('div');
  const live = h('div');
  fill(root, h('div', { class: 'page', testid: `page-${kind}-detail` }, head, h('div', { class: 'detail-grid' }, facts, live)));
  let liveScope: Scope | undefined;
  let lastStatus = '';
  scope.add(() => liveScope?.dispose());
  const listPath = kind === 'vm' ? 'vms' : 'containers';
  const reload = loader(scope, facts, () => load(ref, kind), (inst) => {
    fill(head, h('h1', {}, link(listPath, kind === 'vm' ? 'VMs' : 'Containers'), ' / ', inst.name), statusCell({ status: inst.state.status, exitCode: inst.state.exitCode, health: inst.state.health?.status, stoppedByUser: inst.state.stoppedByUser }), h('span', { class: 'spacer' }), instanceActions({ name: inst.name, status: inst.state.status, type: inst.type }, () => void reload(), () => (location.hash = `#/${listPath}`)));
    if (inst.state.status !== lastStatus) {
      lastStatus = inst.state.status;
      liveScope?.dispose();
      liveScope = new Scope();
      fill(live, ...livePanels(liveScope, inst));
    }
    return factsPanel(inst);
  });
  scope.live((ev) => concerns(ev, ref), () => void reload());
  void reload();
}

async function load(ref: string, kind: 'container' | 'vm'): Promise<Instance> {
  return getJson<Instance>(kind === 'vm' ? `/v1/vms/${enc(ref)}` : `/v1/containers/${enc(ref)}`);
}

const concerns = (ev: HullEvent, ref: string): boolean => (ev.Type === 'container' || ev.Type === 'vm') && (ev.Actor.ID === ref || ev.Actor.ID.startsWith(ref) || ev.Actor.Attributes.name === ref || ev.Actor.Attributes.oldName === ref);

function livePanels(scope: Scope, inst: Instance): HTMLElement[] {
  const running = inst.state.status === 'running';
  const attach = inst.type === 'vm' ? 'Serial console' : inst.config.tty ? 'Attach' : null;
  // A container made without -i has no stdin: its console shows output only.
  const attachTitle = inst.type === 'container' && !inst.config.openStdin ? 'Attach (output only: created without stdin)' : undefined;
  return [...(running ? [statsPanel(scope, inst.id)] : []), consolePanel(scope, inst.id, { running, attach, attachTitle }), logsPanel(scope, inst.id, running)];
}

function factsPanel(inst: Instance): HTMLElement {
  const s = inst.state;
  const c = inst.config;
  const rows: Array<[string, Child]> = [
    ['ID', h('code', { testid: 'fact-id' }, inst.id)],
    ['Image', c.image],
    ['Command', inst.type === 'vm' ? '' : h('code', {}, shellJoin([...(c.entrypoint ?? []), ...(c.cmd ?? [])]))],
    ['State', h('span', { testid: 'fact-state' }, s.status)],
    ['Exit code', s.status === 'exited' ? h('span', { testid: 'fact-exit-code' }, String(s.exitCode)) : ''],
    ['Error', s.error],
    ['Created', ago(inst.createdAt)],
    ['Started', s.startedAt ? `${ago(s.startedAt)} (${s.startedAt})` : ''],
    ['Finished', s.finishedAt ? `${ago(s.finishedAt)} (${s.finishedAt})` : ''],
    ['Restarts', s.restartCount ? String(s.restartCount) : ''],
    ['Networks', (c.networks ?? []).map((n) => `${n.network}: ${n.ipAddress}/${n.prefixLen}`).join(', ')],
    ['Ports', ports(c.ports)],
    ['Mounts', (c.mounts ?? []).map((m) => `${m.type} ${m.source || '(tmpfs)'} → ${m.target}${m.readOnly ? ' (ro)' : ''}`).join(', ')],
    ['Owner', inst.owner ? link(`services/${enc(inst.owner.name)}`, `${inst.owner.kind} ${inst.owner.name}`) : ''],
    ...vmFacts(inst),
  ];
  const dl = h('dl', { class: 'facts', testid: 'facts' });
  for (const [k, v] of rows) if (v !== '' && v !== undefined) dl.append(h('dt', {}, k), h('dd', {}, v));
  return h('section', { class: 'panel' }, h('h2', {}, 'Details'), dl);
}

function vmFacts(inst: Instance): Array<[string, Child]> {
  const vm = inst.vm;
  if (!vm) return [];
  return [
    ['Memory', bytes(vm.spec?.memoryBytes)],
    ['vCPUs', vm.spec?.cpus === undefined ? '' : String(vm.spec.cpus)],
    ['Disk', bytes(vm.spec?.diskBytes)],
    ['Accelerator', vm.accel ? `${vm.accel.accel}${vm.accel.reason ? ` (${vm.accel.reason})` : ''}` : ''],
    ['QEMU status', vm.qmpStatus ?? ''],
  ];
}
