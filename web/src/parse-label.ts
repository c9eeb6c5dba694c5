/**
 * A node label as the Nodes page's field takes it: `key=value`, or a bare
 * `key` for an empty value (as `hull node update --label-add` and docker's);
 * a message for the banner when it is neither.
 */
export function parseLabel(text: string): Record<string, string> | string {
  const s = text.trim();
  const eq = s.indexOf('=');
  const key = eq < 0 ? s : s.slice(0, eq);
  if (!key) return 'a label is key=value, with a key';
  if (key.length > 128) return 'a label key is at most 128 characters';
  return { [key]: eq < 0 ? '' : s.slice(eq + 1) };
}
