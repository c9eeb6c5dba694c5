/**
 * .dockerignore, as docker reads it: one pattern a line, `#` comments,
 * `!` for an exception, `*` and `?` within a path segment, `**` for any
 * number of segments. The last pattern that matches a path decides; a
 * pattern that matches a directory also matches everything under it.
 *
 *   const ig = DockerIgnore.parse(text);
 *   ig.excluded('src/app.js');
 */
interface Rule {
  re: RegExp;
  exception: boolean;
}

export class DockerIgnore {
  private constructor(private readonly rules: Rule[]) {}

  static parse(text: string): DockerIgnore {
    const rules: Rule[] = [];
    for (const raw of text.split(/\r?\n/)) {
      let line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const exception = line.startsWith('!');
      if (exception) line = line.slice(1).trim();
      const clean = cleanPath(line);
      if (clean) rules.push({ re: toRegex(clean), exception });
    }
    return new DockerIgnore(rules);
  }

  get hasExceptions(): boolean {
    return this.rules.some((r) => r.exception);
  }

  /** Whether `rel` (a path relative to the context, `/`-separated) is left out. */
  excluded(rel: string): boolean {
    const parts = rel.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let out = false;
    for (const r of this.rules) if (prefixes.some((p) => r.re.test(p))) out = !r.exception;
    return out;
  }
}

function cleanPath(p: string): string {
  const out: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  return out.join('/');
}

function toRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` or a trailing `**`: any number of segments, including none.
      i++;
      if (pattern[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += pattern[++i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
