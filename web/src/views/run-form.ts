import { ApiError, act, enc, post } from '../api.js';
import { clearError } from '../banner.js';
import { fill, h } from '../dom.js';
import { progressView, pullImage } from '../pull.js';
import { type PortSpec, parsePorts, splitCommand } from '../run-parse.js';

/**
 * "Run container": create (POST /v1/containers) then start, as `hull run`.
 * The command is split as a shell would (quotes kept together). An image the host lacks is pulled first (with a progress bar), as docker
 * does. Detached, the list stays; otherwise the new container's page opens
 * (its logs follow live). Fields: run-image, run-name, run-cmd, run-ports,
 * run-tty, run-detach, run-submit.
 */
export function runForm(onDone: () => void): HTMLElement {
  const field = (testid: string, placeholder: string, required = false) => h('input', { testid, placeholder, required, autocomplete: 'off', spellcheck: 'false' });
  const image = field('run-image', 'image (busybox)', true);
  const name = field('run-name', 'name (optional)');
  const cmd = field('run-cmd', 'command (optional)');
  const ports = field('run-ports', 'ports: 8080:80, 53/udp');
  const tty = h('input', { type: 'checkbox', testid: 'run-tty' });
  const detach = h('input', { type: 'checkbox', testid: 'run-detach', checked: true });
  const progress = h('div', { class: 'run-progress' });
  const submit = h('button', { type: 'submit', testid: 'run-submit', class: 'primary' }, 'Run');
  const form = h('form', { class: 'inline-form', testid: 'run-form' }, image, name, cmd, ports, h('label', {}, tty, ' tty'), h('label', {}, detach, ' detach'), submit, progress);
  const body = (): RunBody => {
    const words = splitCommand(cmd.value);
    return { image: image.value.trim(), ...(name.value.trim() && { name: name.value.trim() }), ...(words.length && { cmd: words }), ports: parsePorts(ports.value), tty: tty.checked, openStdin: tty.checked };
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    clearError();
    act(async () => run(body(), progress))
      .then((created) => {
        const detached = detach.checked;
        form.reset();
        if (!detached) location.hash = `#/containers/${enc(created.name)}`;
      })
      .then(onDone, () => undefined)
      .finally(() => {
        submit.disabled = false;
        fill(progress);
      });
  });
  return form;
}

async function create(body: object): Promise<{ id: string; name: string }> {
  return (await post<{ id: string; name: string }>('/v1/containers', body)) as { id: string; name: string };
}

type RunBody = { image: string; name?: string; cmd?: string[]; ports: PortSpec[]; tty: boolean; openStdin: boolean };

async function run(body: RunBody, progress: HTMLElement): Promise<{ id: string; name: string }> {
  let created: { id: string; name: string };
  try {
    created = await create(body);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'not_found' && err.message.startsWith('image '))) throw err;
    const view = progressView();
    fill(progress, view.el);
    await pullImage(body.image, view.update);
    created = await create(body);
  }
  await post(`/v1/containers/${enc(created.id)}/start`);
  return created;
}
