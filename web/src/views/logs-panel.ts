import { request, enc, messageOf } from '../api.js';
import { button, h } from '../dom.js';
import { FrameDecoder, stripAnsi } from '../frames.js';
import type { Scope } from '../scope.js';
import { readChunks } from '../stream.js';

/**
 * The Logs panel: the last 200 records, then new output live (follow) while
 * the instance runs. A container without a terminal answers docker's
 * multiplexed frames (stderr shown in red); with one, raw bytes. Escape
 * sequences are stripped: this is a log, not a terminal. Keeps the newest
 * 5000 pieces of output. Hooks: data-testid="logs", "logs-state".
 */
const MAX_PIECES = 5000;

export function logsPanel(scope: Scope, ref: string, follow: boolean): HTMLElement {
  const out = h('pre', { class: 'logs', testid: 'logs' });
  const state = h('span', { class: 'muted', testid: 'logs-state' }, 'loading…');
  const wrap = h('label', { class: 'muted' }, h('input', { type: 'checkbox', checked: true, onchange: (e) => out.classList.toggle('nowrap', !(e.target as HTMLInputElement).checked) }), ' wrap');
  const clear = button('Clear', 'logs-clear', () => out.replaceChildren());
  const el = h('section', { class: 'panel', testid: 'logs-panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Logs'), state, h('span', { class: 'spacer' }), wrap, clear), out);
  void stream(scope, ref, follow, out, state);
  return el;
}

async function stream(scope: Scope, ref: string, follow: boolean, out: HTMLElement, state: HTMLElement): Promise<void> {
  try {
    const res = await request('GET', `/v1/containers/${enc(ref)}/logs?tail=200${follow ? '&follow=1' : ''}`, undefined, scope.abort.signal);
    state.textContent = follow ? 'following' : '';
    const framed = (res.headers.get('content-type') ?? '').includes('multiplexed');
    const frames = new FrameDecoder();
    const decoders = [new TextDecoder(), new TextDecoder(), new TextDecoder()];
    await readChunks(res, (chunk) => {
      if (!framed) return write(out, decoders[1].decode(chunk, { stream: true }), 1);
      for (const f of frames.push(chunk)) write(out, decoders[f.stream === 2 ? 2 : 1].decode(f.data, { stream: true }), f.stream);
    });
    state.textContent = follow ? 'ended' : '';
  } catch (err) {
    if (!scope.disposed) state.textContent = `error: ${messageOf(err)}`;
  }
}

function write(out: HTMLElement, text: string, stream: number): void {
  if (!text) return;
  const stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
  const clean = stripAnsi(text).replace(/\r(?!\n)/g, '');
  out.append(stream === 2 ? h('span', { class: 'stderr' }, clean) : document.createTextNode(clean));
  while (out.childNodes.length > MAX_PIECES) out.firstChild?.remove();
  if (stick) out.scrollTop = out.scrollHeight;
}
