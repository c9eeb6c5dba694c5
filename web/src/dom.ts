/**
 * Building elements without innerHTML: every string becomes a text node or
 * an attribute value, so names and labels users chose can never become
 * markup (the dashboard is XSS-safe by construction).
 */
export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) setAttr(el, key, value);
  append(el, children);
  return el;
}

function setAttr(el: HTMLElement, key: string, value: Attrs[string]): void {
  if (value === undefined || value === null || value === false) return;
  if (typeof value === 'function') el.addEventListener(key.slice(2), value);
  else if (key === 'testid') el.dataset.testid = String(value);
  else if (key === 'class') el.className = String(value);
  else el.setAttribute(key, value === true ? '' : String(value));
}

export function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'object' ? child : String(child));
  }
}

/** Replace an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A link inside the app (hash routing). */
export const link = (route: string, text: string, testid?: string): HTMLAnchorElement =>
  h('a', { href: `#/${route}`, testid }, text);

/** A button that runs an async action, disabled while it runs. */
export function button(label: string, testid: string, action: () => Promise<unknown> | void, cls = ''): HTMLButtonElement {
  const b = h('button', { type: 'button', testid, class: cls });
  b.textContent = label;
  b.addEventListener('click', () => {
    b.disabled = true;
    Promise.resolve()
      .then(action)
      .catch(() => undefined)
      .finally(() => {
        b.disabled = false;
      });
  });
  return b;
}

/** A section with a heading. */
export const panel = (title: string, testid: string, ...children: Child[]): HTMLElement =>
  h('section', { class: 'panel', testid }, h('h2', {}, title), ...children);
