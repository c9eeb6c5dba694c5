import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { fill, h } from './dom.js';
import { wsProtocols } from './session.js';

/**
 * A terminal in the page joined to a console WebSocket (/ws/containers/
 * {ref}/exec or /attach): binary frames are the terminal's bytes both ways;
 * we send `{"resize":[rows, cols]}` on open and whenever the terminal's size
 * changes; the server's one text frame is `{"error": "..."}`, and a normal
 * close's reason says how the session ended ("exited 0").
 * Hooks: data-testid="terminal" (xterm's box), "terminal-status".
 */
export interface ConsoleSession {
  el: HTMLElement;
  close: () => void;
}

export function wsUrl(path: string): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
}

/** Open a console in `parent` (laid out first, so the socket asks for the terminal's real size). */
export function openConsole(parent: HTMLElement, path: (rows: number, cols: number) => string, title: string): ConsoleSession {
  const status = h('span', { class: 'term-status', testid: 'terminal-status' }, 'connecting…');
  const box = h('div', { class: 'terminal', testid: 'terminal' });
  const el = h('div', { class: 'console' }, h('div', { class: 'console-head' }, h('strong', {}, title), ' ', status), box);
  parent.replaceChildren(el);
  const term = new Terminal({ cursorBlink: true, fontSize: 13, fontFamily: 'ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace', scrollback: 5000 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(box);
  safeFit(fit);
  const ws = new WebSocket(wsUrl(path(term.rows, term.cols)), wsProtocols());
  ws.binaryType = 'arraybuffer';
  let errored = false;
  const setStatus = (text: string, cls: string): void => {
    if (errored) return;
    errored = cls === 'bad';
    fill(status, text);
    status.className = `term-status ${cls}`;
  };
  const sendSize = (): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ resize: [term.rows, term.cols] }));
  };
  const encoder = new TextEncoder();
  ws.onopen = () => {
    setStatus('connected', 'ok');
    sendSize();
    term.focus();
  };
  // The size again with the first output: the server may not have been listening yet when we sent it on open.
  let sized = false;
  ws.onmessage = (m) => {
    if (!sized && (sized = true)) sendSize();
    onMessage(m, term, setStatus);
  };
  ws.onclose = (ev) => onClose(ev, term, setStatus);
  term.onData((d) => ws.readyState === WebSocket.OPEN && ws.send(encoder.encode(d)));
  term.onBinary((d) => ws.readyState === WebSocket.OPEN && ws.send(Uint8Array.from(d, (c) => c.charCodeAt(0))));
  term.onResize(sendSize);
  const observer = new ResizeObserver(() => safeFit(fit));
  observer.observe(box);
  const close = (): void => {
    observer.disconnect();
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, 'closed');
    term.dispose();
  };
  return { el, close };
}

function onMessage(m: MessageEvent, term: Terminal, setStatus: (t: string, c: string) => void): void {
  if (m.data instanceof ArrayBuffer) return term.write(new Uint8Array(m.data));
  try {
    const msg = JSON.parse(String(m.data)) as { error?: string };
    if (msg.error) {
      setStatus(`error: ${msg.error}`, 'bad');
      term.write(`\r\n\x1b[31m${msg.error.replace(/[\x00-\x1f\x7f]/g, ' ')}\x1b[0m\r\n`);
    }
  } catch {
    // a text frame that is not JSON: nothing the terminal should show
  }
}

function onClose(ev: CloseEvent, term: Terminal, setStatus: (t: string, c: string) => void): void {
  if (ev.code === 1000) {
    setStatus(`session ended${ev.reason ? `: ${ev.reason}` : ''}`, 'ended');
    term.write(`\r\n\x1b[90m[session ended${ev.reason ? `: ${ev.reason.replace(/[\x00-\x1f\x7f]/g, ' ')}` : ''}]\x1b[0m\r\n`);
  } else {
    setStatus(`disconnected (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`, 'bad');
  }
}

function safeFit(fit: FitAddon): void {
  try {
    fit.fit();
  } catch {
    // not laid out yet (hidden): the next resize fits it
  }
}
