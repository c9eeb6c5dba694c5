import { request } from './api.js';
import { h } from './dom.js';
import { bytes } from './format.js';
import { readJsonLines } from './stream.js';
import type { ProgressEvent } from './types.js';

/**
 * Pulls an image (POST /v1/images/pull streams ProgressEvents) and shows it
 * as a progress bar: bytes done over bytes known across the layers, with the
 * latest status line. A stream that ends in an `error` event (or without a
 * `result`) throws its message.
 */
export function progressView(): { el: HTMLElement; update: (ev: ProgressEvent) => void } {
  const bar = h('progress', { testid: 'pull-progress', max: 1, value: 0 });
  const label = h('span', { class: 'muted', testid: 'pull-status' });
  const layers = new Map<string, { current: number; total: number }>();
  const update = (ev: ProgressEvent): void => {
    if (ev.type === 'layer' && ev.id) {
      const done = ev.status === 'Pull complete' || ev.status === 'Already exists' || ev.status === 'Download complete';
      const prev = layers.get(ev.id) ?? { current: 0, total: 0 };
      const total = ev.total ?? prev.total;
      layers.set(ev.id, { total, current: done ? total : (ev.current ?? prev.current) });
      label.textContent = `${ev.id}: ${ev.status ?? ''}`;
    } else if (ev.message) label.textContent = ev.message;
    let cur = 0;
    let tot = 0;
    for (const l of layers.values()) (cur += l.current), (tot += l.total);
    if (tot > 0) (bar.max = tot), (bar.value = cur), (bar.title = `${bytes(cur)} of ${bytes(tot)}`);
    if (ev.type === 'result') (bar.max = 1), (bar.value = 1), (label.textContent = `Pulled ${ev.name ?? ev.digest ?? ''}`);
  };
  return { el: h('div', { class: 'progress' }, bar, ' ', label), update };
}

export async function pullImage(ref: string, onEvent: (ev: ProgressEvent) => void): Promise<ProgressEvent> {
  const res = await request('POST', '/v1/images/pull', { ref });
  let last: ProgressEvent | undefined;
  await readJsonLines<ProgressEvent>(res, (ev) => {
    last = ev;
    onEvent(ev);
  });
  if (last?.type === 'error') throw new Error(last.message ?? 'pull failed');
  if (last?.type !== 'result') throw new Error('the pull stream ended before its result');
  return last;
}
