import { act, enc, getJson, post } from '../api.js';
import { clearError } from '../banner.js';
import { h } from '../dom.js';

/**
 * "Create VM" (POST /v1/vms, then start): name, VM image (from
 * GET /v1/vm-images), memory in MiB, vCPUs. Fields: vm-name, vm-image,
 * vm-memory, vm-cpus, vm-submit.
 */
interface VmImage {
  id: string;
  name: string;
}

export function vmForm(onDone: () => void): HTMLElement {
  const name = h('input', { testid: 'vm-name', placeholder: 'name (optional)', autocomplete: 'off' });
  const image = h('select', { testid: 'vm-image' });
  const memory = h('input', { testid: 'vm-memory', type: 'number', min: 64, step: 64, value: 256, title: 'memory, MiB', class: 'narrow' });
  const cpus = h('input', { testid: 'vm-cpus', type: 'number', min: 1, value: 1, title: 'vCPUs', class: 'narrow' });
  const submit = h('button', { type: 'submit', testid: 'vm-submit', class: 'primary' }, 'Create and start');
  const form = h('form', { class: 'inline-form', testid: 'vm-form' }, name, image, h('label', {}, memory, ' MiB'), h('label', {}, cpus, ' vCPUs'), submit);
  void getJson<VmImage[]>('/v1/vm-images')
    .then((imgs) => image.append(...imgs.map((i) => h('option', { value: i.name }, i.name))))
    .catch(() => image.append(h('option', { value: '' }, '(no VM images)')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    clearError();
    const body = { ...(name.value.trim() && { name: name.value.trim() }), ...(image.value && { image: image.value }), memoryBytes: Number(memory.value) * 1024 * 1024, cpus: Number(cpus.value) };
    act(async () => {
      const created = (await post<{ id: string; name: string }>('/v1/vms', body)) as { id: string; name: string };
      await post(`/v1/containers/${enc(created.id)}/start`);
    })
      .then(() => name.value = '')
      .then(onDone, () => undefined)
      .finally(() => (submit.disabled = false));
  });
  return form;
}
