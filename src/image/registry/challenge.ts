/** One `WWW-Authenticate` challenge: its scheme (lower case) and parameters (names lower case). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parse `WWW-Authenticate` values (RFC 7235): a header may carry several
 * challenges, and a response several headers.
 *
 *   parseChallenges('Bearer realm="https://a/token",service="reg",scope="repository:x:pull"')
 *   // [{ scheme: 'bearer', params: { realm: 'https://a/token', service: 'reg', scope: 'repository:x:pull' } }]
 */
export function parseChallenges(headers: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const h of Array.isArray(headers) ? headers : headers ? [headers] : []) out.push(...parseOne(h));
  return out;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

function parseOne(text: string): Challenge[] {
  const out: Challenge[] = [];
  let s = text.trim();
  let current: Challenge | undefined;
  while (s.length > 0) {
    s = s.replace(/^[\s,]+/, '');
    const tok = TOKEN.exec(s)?.[0];
    if (!tok) break;
    const after = s.slice(tok.length).trimStart();
    if (after.startsWith('=') && current) {
      // A parameter of the current challenge: name=token or name="quoted \" string".
      s = after.slice(1).trimStart();
      const { value, rest } = readValue(s);
      current.params[tok.toLowerCase()] = value;
      s = rest;
    } else {
      current = { scheme: tok.toLowerCase(), params: {} };
      out.push(current);
      s = after;
    }
  }
  return out;
}

function readValue(s: string): { value: string; rest: string } {
  if (!s.startsWith('"')) {
    const m = /^[^,\s]*/.exec(s)![0];
    return { value: m, rest: s.slice(m.length) };
  }
  let value = '';
  let i = 1;
  for (; i < s.length && s[i] !== '"'; i++) {
    if (s[i] === '\\' && i + 1 < s.length) i++;
    value += s[i];
  }
  return { value, rest: s.slice(i + 1) };
}
