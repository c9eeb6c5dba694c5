import { fill, h } from './dom.js';

/**
 * The one error banner (data-testid="error"): failed actions show the API's
 * message here; a lost session shows how to sign in again and stays.
 */
const el = h('div', { class: 'banner', testid: 'error', role: 'alert', hidden: true });
let signedOut = false;

export const bannerElement = (): HTMLElement => el;

export function showError(message: string): void {
  if (signedOut) return;
  fill(el, h('span', {}, message), h('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss', onclick: clearError }, '×'));
  el.hidden = false;
}

export function clearError(): void {
  if (!signedOut) el.hidden = true;
}

export function showSignedOut(): void {
  fill(el, 'Not signed in: run ', h('code', {}, 'hull dashboard'), ' on the host and open the link it prints');
  el.hidden = false;
  el.classList.add('signed-out');
  signedOut = true;
}

export const isSignedOut = (): boolean => signedOut;
