import { act, del, enc, getJson } from '../api.js';
import { clearError } from '../banner.js';
import { button, fill, h } from '../dom.js';
import { ago, bytes, shortId } from '../format.js';
import { loader, pageFrame } from '../page.js';
import { progressView, pullImage } from '../pull.js';
import { ofType, type Scope } from '../scope.js';
import { dataTable } from '../table.js';
import type { ImageSummary } from '../types.js';

/**
 * #/images: local images (one row per image, keyed by its first name, or
 * its short id when it has none) with remove, and a Pull form whose
 * progress is a bar (data-testid "pull-ref", "pull-submit", "pull-progress").
 */
export function imagesPage(root: HTMLElement, scope: Scope): void {
  const list = h('div');
  const reload = loader(scope, list, () => getJson<ImageSummary[]>('/v1/images'), (imgs) => imageTable(imgs, () => void reload()));
  pageFrame(root, 'Images', 'images').append(pullForm(() => void reload()), list);
  scope.live(ofType('image'), () => void reload());
  void reload();
}

function pullForm(onDone: () => void): HTMLElement {
  const ref = h('input', { testid: 'pull-ref', placeholder: 'image to pull: registry/repo:tag', required: true, autocomplete: 'off', spellcheck: 'false', class: 'wide' });
  const submit = h('button', { type: 'submit', testid: 'pull-submit', class: 'primary' }, 'Pull');
  const progress = h('div', { class: 'run-progress' });
  const form = h('form', { class: 'inline-form', testid: 'pull-form' }, ref, submit, progress);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    clearError();
    const view = progressView();
    fill(progress, view.el);
    act(() => pullImage(ref.value.trim(), view.update))
      .then(() => (ref.value = ''))
      .then(onDone, () => fill(progress))
      .finally(() => (submit.disabled = false));
  });
  return form;
}

const keyOf = (i: ImageSummary): string => i.tags[0] ?? shortId(i.id);

function imageTable(rows: ImageSummary[], reload: () => void): HTMLElement {
  return dataTable(
    'images-table',
    [
      { title: 'Names', cell: (i) => (i.tags.length ? i.tags.join(', ') : h('span', { class: 'muted' }, '<none>')) },
      { title: 'ID', cell: (i) => h('code', {}, shortId(i.id)) },
      { title: 'Size', cell: (i) => bytes(i.size) },
      { title: 'Platform', cell: (i) => `${i.os}/${i.architecture}` },
      { title: 'Created', cell: (i) => ago(i.createdAt) },
      { title: '', cell: (i) => button('Remove', 'action-remove', () => remove(i).then(reload), 'danger'), cls: 'right' },
    ],
    rows,
    keyOf,
    'No images.',
  );
}

async function remove(i: ImageSummary): Promise<void> {
  const what = i.tags.length > 1 ? `image ${shortId(i.id)} (${i.tags.join(', ')})` : `image ${keyOf(i)}`;
  if (!confirm(`Remove ${what}?`)) return;
  await act(() => del(`/v1/images/${enc(i.tags.length === 1 ? i.tags[0] : i.id)}${i.tags.length > 1 ? '?force=1' : ''}`));
}
