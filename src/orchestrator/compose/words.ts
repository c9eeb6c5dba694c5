import { invalid } from '../../core/errors.js';

/**
 * Split a Compose `command:` or `entrypoint:` string into words as Compose
 * does (shell quoting rules, no expansion: interpolation has already run).
 */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let any = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (/\s/.test(c)) {
      if (any) out.push(cur);
      cur = '';
      any = false;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw invalid(`unterminated single quote in "${s}"`);
      cur += s.slice(i + 1, end);
      i = end;
      any = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && (s[j + 1] === '"' || s[j + 1] === '\\' || s[j + 1] === '$' || s[j + 1] === '`')) j++;
        cur += s[j];
      }
      if (j >= s.length) throw invalid(`unterminated double quote in "${s}"`);
      i = j;
      any = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      any = true;
    } else {
      cur += c;
      any = true;
    }
  }
  if (any) out.push(cur);
  return out;
}
