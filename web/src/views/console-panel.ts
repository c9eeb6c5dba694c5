import { enc } from '../api.js';
import { button, fill, h } from '../dom.js';
import { openConsole, type ConsoleSession } from '../console.js';
import type { Scope } from '../scope.js';

/**
 * The Terminal panel of an instance's page: "Shell" (data-testid
 * "open-shell") opens a new /bin/sh in it over the exec WebSocket; "Attach"
 * ("open-attach", shown for a container with a tty) or "Serial console"
 * (a VM) joins the instance's own console. One session at a time; leaving
 * the page ends it.
 */
export function consolePanel(scope: Scope, ref: string, opts: { running: boolean; attach: string | null; attachTitle?: string }): HTMLElement {
  const area = h('div', { class: 'console-area' });
  let session: ConsoleSession | undefined;
  const stop = (): void => {
    session?.close();
    session = undefined;
    fill(area);
  };
  scope.add(stop);
  const open = (kind: 'exec' | 'attach', title: string) => (): void => {
    stop();
    session = openConsole(area, (rows, cols) => `/ws/containers/${enc(ref)}/${kind}?rows=${rows}&cols=${cols}`, title);
  };
  const tools = opts.running
    ? [button('Shell', 'open-shell', open('exec', 'Shell (/bin/sh)')), opts.attach && button(opts.attach, 'open-attach', open('attach', opts.attachTitle ?? opts.attach)), button('Close', 'close-terminal', stop)]
    : [h('span', { class: 'muted' }, 'Start it to open a shell.')];
  return h('section', { class: 'panel', testid: 'terminal-panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Terminal'), h('span', { class: 'spacer' }), ...tools), area);
}
