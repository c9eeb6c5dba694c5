import { ApiError, messageOf } from './api.js';
import { fill, h } from './dom.js';
import type { Scope } from './scope.js';

/**
 * A part of a page that loads data and renders it, again on each reload
 * (after an action, or a relevant event). Loads never overlap: a reload
 * asked for during one runs once it ends. A failed load shows its message
 * in place (data-testid="load-error"); the last good rendering stays until
 * a newer one replaces it.
 */
export function loader<T>(scope: Scope, target: HTMLElement, load: () => Promise<T>, render: (data: T) => Node): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  const once = async (): Promise<void> => {
    try {
      const data = await load();
      if (!scope.disposed) fill(target, render(data));
    } catch (err) {
      if (scope.disposed || (err instanceof ApiError && err.status === 401)) return;
      fill(target, h('div', { class: 'load-error', testid: 'load-error' }, messageOf(err)));
    }
  };
  const reload = async (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = once().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        void reload();
      }
    });
    return running;
  };
  return reload;
}

/** A page's frame: a title row (with optional tools on the right) and a body. */
export function pageFrame(root: HTMLElement, title: string, testid: string, ...tools: Node[]): HTMLElement {
  const body = h('div', { class: 'page-body' });
  fill(root, h('div', { class: 'page', testid: `page-${testid}` }, h('div', { class: 'page-head' }, h('h1', {}, title), h('div', { class: 'tools' }, ...tools)), body));
  return body;
}
