import { act, enc, post, del } from './api.js';
import { button, h } from './dom.js';

/**
 * Lifecycle buttons for a container or a VM (both are instances: the
 * /v1/containers/{ref}/… routes take either). Each button is
 * data-testid="action-<verb>"; remove asks first, and forces a running one
 * (the API refuses to remove a running instance otherwise).
 */
export interface InstanceRef {
  name: string;
  status: string;
  type: 'container' | 'vm';
}

const path = (ref: string, verb: string): string => `/v1/containers/${enc(ref)}/${verb}`;

export function instanceActions(inst: InstanceRef, after: () => void, onRemoved: () => void = after): HTMLElement {
  const live = inst.status === 'running' || inst.status === 'paused';
  const run = (verb: string) => () => act(() => post(path(inst.name, verb))).then(after);
  return h(
    'div',
    { class: 'actions' },
    !live && button('Start', 'action-start', run('start')),
    inst.status === 'running' && button('Stop', 'action-stop', run('stop')),
    inst.status === 'running' && button('Restart', 'action-restart', run('restart')),
    inst.status === 'paused' && button('Unpause', 'action-unpause', run('unpause')),
    button('Remove', 'action-remove', () => remove(inst, live, onRemoved), 'danger'),
  );
}

async function remove(inst: InstanceRef, live: boolean, onRemoved: () => void): Promise<void> {
  const what = inst.type === 'vm' ? 'VM' : 'container';
  if (!confirm(`Remove ${what} "${inst.name}"${live ? ' (it is running: it will be killed)' : ''}?`)) return;
  await act(() => del(`/v1/containers/${enc(inst.name)}${live ? '?force=1' : ''}`));
  onRemoved();
}
