import { invalid } from '../../core/errors.js';

/**
 * A parsed Dockerfile: global ARGs (before the first FROM) and stages.
 * Parsing checks the syntax only; variables are expanded as the build runs,
 * because their values depend on the steps before.
 *
 *   const df = parseDockerfile(text);
 *   for (const stage of df.stages) for (const ins of stage.instructions) ...
 */
export interface Instruction {
  /** Upper-case keyword: RUN, COPY, ... */
  keyword: string;
  /** The arguments after the keyword and its flags, continuation lines joined. */
  args: string;
  /** `--name=value` flags (COPY --from, --chown; FROM --platform). */
  flags: Record<string, string>;
  /** For RUN, CMD, ENTRYPOINT, COPY, ADD, SHELL written as a JSON array. */
  json?: string[];
  /** 1-based line the instruction starts on. */
  line: number;
  /** As written, for `Step N/M : ...` and history. */
  text: string;
}

export interface Stage {
  /** The FROM line (keyword FROM). */
  from: Instruction;
  /** The base (image reference, `scratch`, or an earlier stage's name), unexpanded. */
  base: string;
  /** `AS name`, lower-cased, if given. */
  name?: string;
  index: number;
  instructions: Instruction[];
}

export interface Dockerfile {
  globalArgs: Instruction[];
  stages: Stage[];
  escape: string;
}

const KEYWORDS = new Set(['FROM', 'RUN', 'COPY', 'ADD', 'ENV', 'ARG', 'WORKDIR', 'USER', 'EXPOSE', 'LABEL', 'ENTRYPOINT', 'CMD', 'SHELL', 'STOPSIGNAL', 'VOLUME', 'MAINTAINER', 'HEALTHCHECK', 'ONBUILD']);
const FLAGS: Record<string, string[]> = {
  FROM: ['platform'],
  COPY: ['from', 'chown', 'chmod', 'link'],
  ADD: ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};
const JSON_FORMS = new Set(['RUN', 'CMD', 'ENTRYPOINT', 'COPY', 'ADD', 'SHELL', 'VOLUME']);
const NEEDS_ARGS = new Set(['RUN', 'COPY', 'ADD', 'ENV', 'ARG', 'WORKDIR', 'USER', 'EXPOSE', 'LABEL', 'ENTRYPOINT', 'CMD', 'SHELL', 'STOPSIGNAL', 'VOLUME', 'MAINTAINER', 'HEALTHCHECK']);

export function parseDockerfile(text: string): Dockerfile {
  const { escape, lines } = directives(text.replace(/^\uFEFF/, '').split(/\r?\n/));
  const df: Dockerfile = { globalArgs: [], stages: [], escape };
  for (const ins of logicalLines(lines, escape)) {
    const at = `Dockerfile line ${ins.line}`;
    try {
      addInstruction(df, parseInstruction(ins.text, ins.line, escape));
    } catch (e) {
      throw invalid(`${at}: ${(e as Error).message}`);
    }
  }
  if (df.stages.length === 0) throw invalid('the Dockerfile has no FROM instruction');
  return df;
}

function addInstruction(df: Dockerfile, ins: Instruction): void {
  if (ins.keyword === 'FROM') {
    const words = ins.args.split(/\s+/);
    if (!(words.length === 1 || (words.length === 3 && words[1].toLowerCase() === 'as'))) throw new Error(`FROM takes IMAGE [AS NAME], not "${ins.args}"`);
    const name = words[2]?.toLowerCase();
    if (name !== undefined && !/^[a-z][a-z0-9_.-]*$/.test(name)) throw new Error(`invalid stage name "${words[2]}"`);
    if (name && df.stages.some((s) => s.name === name)) throw new Error(`duplicate stage name "${name}"`);
    df.stages.push({ from: ins, base: words[0], name, index: df.stages.length, instructions: [] });
    return;
  }
  const stage = df.stages[df.stages.length - 1];
  if (!stage) {
    if (ins.keyword !== 'ARG') throw new Error(`${ins.keyword} before the first FROM: only ARG may come before it`);
    df.globalArgs.push(ins);
    return;
  }
  stage.instructions.push(ins);
}

/** `# syntax=` is ignored; `# escape=` sets the escape character. Directives end at the first other line. */
function directives(lines: string[]): { escape: string; lines: Array<{ text: string; line: number }> } {
  let escape = '\\';
  let i = 0;
  for (; i < lines.length; i++) {
    const m = /^\s*#\s*([a-zA-Z]+)\s*=\s*(.*?)\s*$/.exec(lines[i]);
    if (!m) break;
    const key = m[1].toLowerCase();
    if (key === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') throw invalid(`Dockerfile line ${i + 1}: escape must be \\ or \`, not "${m[2]}"`);
      escape = m[2];
    } else if (key !== 'syntax' && key !== 'check') break;
  }
  return { escape, lines: lines.map((text, n) => ({ text, line: n + 1 })) };
}

/** Join continuation lines, dropping comments and blank lines (also inside continuations). */
function logicalLines(lines: Array<{ text: string; line: number }>, escape: string): Array<{ text: string; line: number }> {
  const out: Array<{ text: string; line: number }> = [];
  let cur: { text: string; line: number } | undefined;
  const cont = new RegExp(`${escape === '\\' ? '\\\\' : '`'}\\s*$`);
  for (const { text, line } of lines) {
    const trimmed = text.trim();
    if (trimmed.startsWith('#') || (cur && trimmed === '')) continue;
    if (!cur && trimmed === '') continue;
    const more = cont.test(text);
    const piece = more ? text.replace(cont, '') : text;
    if (cur) cur.text += piece;
    else cur = { text: piece.replace(/^\s+/, ''), line };
    if (!more) {
      out.push(cur);
      cur = undefined;
    }
  }
  if (cur && cur.text.trim()) out.push(cur);
  return out;
}

function parseInstruction(text: string, line: number, escape: string): Instruction {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text.trim())!;
  const keyword = m[1].toUpperCase();
  if (!KEYWORDS.has(keyword)) throw new Error(`unknown instruction: ${m[1]}`);
  let rest = m[2].trim();
  const flags: Record<string, string> = {};
  for (;;) {
    const f = /^--([a-z-]+)(?:=(\S*))?(\s+|$)/.exec(rest);
    if (!f) break;
    if (keyword === 'RUN') throw new Error(`RUN --${f[1]} is not supported`);
    if (!(FLAGS[keyword] ?? []).includes(f[1])) throw new Error(`unknown flag for ${keyword}: --${f[1]}`);
    flags[f[1]] = f[2] ?? 'true';
    rest = rest.slice(f[0].length);
  }
  if (NEEDS_ARGS.has(keyword) && rest === '') throw new Error(`${keyword} needs arguments`);
  if (keyword === 'FROM' && rest === '') throw new Error('FROM needs an image');
  if (keyword === 'ONBUILD') throw new Error(`${keyword} is not supported`);
  const ins: Instruction = { keyword, args: rest, flags, line, text: `${keyword} ${text.trim().slice(m[1].length).trim()}`.trim() };
  if (JSON_FORMS.has(keyword)) ins.json = jsonForm(rest);
  if ((keyword === 'COPY' || keyword === 'ADD') && (ins.json ?? splitPlain(rest, escape)).length < 2) throw new Error(`${keyword} needs at least one source and a destination`);
  return ins;
}

/** A JSON array of strings, or undefined (docker then takes the text as the shell form). */
function jsonForm(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(rest);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    // not JSON: the shell form
  }
  return undefined;
}

function splitPlain(rest: string, _escape: string): string[] {
  return rest.split(/\s+/).filter(Boolean);
}
