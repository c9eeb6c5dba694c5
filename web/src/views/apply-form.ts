import { act, post } from '../api.js';
import { clearError, showError } from '../banner.js';
import { fill, h } from '../dom.js';
import type { ApplyBodyInput, ApplyResult } from '../types.js';

/**
 * "Apply a Compose file", as `hull diff -f` / `hull apply -f` with the file
 * pasted: Diff (POST /v1/apps/diff) shows what would change, Apply (POST
 * /v1/apps/apply) changes it. The daemon reads the file strictly; its
 * error (the file's line and field) goes to the banner. The page has no
 * directory or environment of the client's: relative paths resolve from
 * `/`, variables are unset. Hooks: apply-form, apply-yaml, apply-app,
 * apply-diff, apply-submit, apply-result (apply-change rows with data-change).
 */
export function applyForm(onApplied: () => void): HTMLElement {
  const yaml = h('textarea', { testid: 'apply-yaml', rows: 7, spellcheck: 'false', placeholder: PLACEHOLDER, 'aria-label': 'Compose file' });
  const app = h('input', { testid: 'apply-app', placeholder: "app (default: the file's name:)", autocomplete: 'off', spellcheck: 'false' });
  const diff = h('button', { type: 'button', testid: 'apply-diff' }, 'Diff');
  const submit = h('button', { type: 'submit', testid: 'apply-submit', class: 'primary' }, 'Apply');
  const result = h('div', { class: 'apply-result', testid: 'apply-result' });
  const form = h('form', { class: 'panel apply-form', testid: 'apply-form' }, h('h2', {}, 'Apply a Compose file'), yaml, h('div', { class: 'apply-tools' }, app, diff, submit), result);
  const send = (verb: 'diff' | 'apply') => {
    const body = request(yaml.value, app.value.trim());
    if (typeof body === 'string') return showError(body);
    clearError();
    fill(result);
    diff.disabled = submit.disabled = true;
    act(() => post<ApplyResult>(`/v1/apps/${verb}`, body))
      .then((r) => {
        if (r) fill(result, ...report(r, verb));
        if (verb === 'apply') onApplied();
      }, () => undefined)
      .finally(() => (diff.disabled = submit.disabled = false));
  };
  diff.addEventListener('click', () => send('diff'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    send('apply');
  });
  return form;
}

const PLACEHOLDER = 'name: myapp\nservices:\n  web:\n    image: busybox\n    command: [sleep, "3600"]\n    deploy:\n      replicas: 2';

/** The body, or a message when the daemon could not name the app (no app field, no `name:`). */
function request(content: string, project: string): ApplyBodyInput | string {
  if (!content.trim()) return 'Paste a Compose file first';
  if (!project && !/^name\s*:\s*\S/m.test(content)) return "Give the app a name: the app field, or name: at the file's top";
  return { file: 'compose.yaml', content, ...(project ? { project } : {}) };
}

const WOULD: Record<string, string> = { create: 'would be created', update: 'would be updated (a new revision, rolled out)', scale: 'would be scaled', config: 'would be configured', delete: 'would be removed', keep: 'is kept', none: 'unchanged' };
const DID: Record<string, string> = { create: 'created', update: 'updated (rolling out a new revision)', scale: 'scaled', config: 'configured', delete: 'removed', keep: 'kept', none: 'unchanged' };

function report(r: ApplyResult, verb: 'diff' | 'apply'): HTMLElement[] {
  const words = verb === 'diff' ? WOULD : DID;
  const out: HTMLElement[] = r.warnings.map((w) => h('div', { class: 'warn' }, `Warning: ${w}`));
  for (const c of r.changes) {
    out.push(h('div', { class: `apply-change ch-${c.change}`, testid: 'apply-change', 'data-change': c.change, 'data-name': c.name }, `${c.kind} ${c.name} ${words[c.change] ?? c.change}`));
    if (c.diff.length) out.push(h('pre', { class: 'apply-diff' }, c.diff.join('\n')));
  }
  const changed = r.changes.some((c) => c.change !== 'none' && c.change !== 'keep');
  if (!changed) out.push(h('div', { class: 'muted' }, `app ${r.app}: nothing ${verb === 'diff' ? 'would change' : 'to do'}`));
  return out;
}
