import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ApplyBodyInput, ApplyResult } from '../../api/contract/services.js';
import { exitWith, getCtx } from '../context.js';
import { printJson } from '../format.js';

/**
 * `hull apply|diff|delete -f FILE`: a Compose file, read as `docker stack
 * deploy` reads it. The client sends the file, the variables of its own
 * environment the file names (with a `.env` beside the file under them, as
 * Compose), and the env_files it names; the daemon parses and checks it.
 */
export function register(program: Command): void {
  const ctx = () => getCtx(program.opts().host);
  const fileOpts = (c: Command) =>
    c
      .requiredOption('-f, --file <file>', 'the Compose file (- for standard input)')
      .option('-p, --project-name <name>', "the app's name (default: the file's name: key, else its directory's name, as Compose)")
      .option('--format <format>', 'text (default) or json');

  fileOpts(program.command('apply').description('create or update every service of a Compose file; applying it again changes nothing'))
    .option('--prune', "also remove the app's services that the file no longer has")
    .action(async (o: FileOpts & { prune?: boolean }) => {
      const r = await ctx().client.call<ApplyResult>('POST', '/v1/apps/apply', { ...readApp(o), prune: !!o.prune });
      report(r, o, 'apply');
    });

  fileOpts(program.command('diff').description('show what apply would change, changing nothing'))
    .option('--prune', 'show the removals apply --prune would make')
    .action(async (o: FileOpts & { prune?: boolean }) => {
      const r = await ctx().client.call<ApplyResult>('POST', '/v1/apps/diff', { ...readApp(o), prune: !!o.prune });
      report(r, o, 'diff');
      // As diff(1) and kubectl diff: 1 when something would change.
      if (r.changes.some((c) => c.change !== 'none' && c.change !== 'keep')) exitWith(1);
    });

  fileOpts(program.command('delete').description("remove the app's services, their replicas and the networks apply made")).action(async (o: FileOpts) => {
    const r = await ctx().client.call<ApplyResult>('POST', '/v1/apps/delete', readApp(o));
    report(r, o, 'delete');
  });
}

interface FileOpts {
  file: string;
  projectName?: string;
  format?: string;
}

function readApp(o: FileOpts): ApplyBodyInput {
  const fromStdin = o.file === '-';
  let content: string;
  try {
    content = readFileSync(fromStdin ? 0 : o.file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${o.file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const dir = fromStdin ? process.cwd() : dirname(resolve(o.file));
  const env = { ...dotEnv(resolve(dir, '.env')), ...process.env } as Record<string, string>;
  const named = new Set([...content.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
  const envFiles: Record<string, string> = {};
  for (const f of envFileNames(content)) {
    try {
      envFiles[f] = readFileSync(resolve(dir, f), 'utf8');
    } catch {
      // The daemon says which one is missing, with its line.
    }
  }
  const bareKeys = bareEnvironmentKeys(content);
  const wanted = Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== undefined && (named.has(k) || bareKeys.has(k))));
  return { file: o.file === '-' ? '(stdin)' : o.file, content, dir, env: wanted, envFiles, ...(o.projectName ? { project: o.projectName } : {}) };
}

/** `.env` beside the file: KEY=VALUE lines, as Compose reads them. */
function dotEnv(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1]] = /^(['"]).*\1$/.test(m[2]) ? m[2].slice(1, -1) : m[2];
  }
  return out;
}

/** What the file's services name as env_file (the daemon cannot read the client's files). */
function envFileNames(content: string): string[] {
  const doc = safeYaml(content);
  const services = (doc as { services?: Record<string, { env_file?: unknown }> } | undefined)?.services ?? {};
  return Object.values(services ?? {}).flatMap((s) => {
    const f = s?.env_file;
    return typeof f === 'string' ? [f] : Array.isArray(f) ? f.filter((x): x is string => typeof x === 'string') : [];
  });
}

/** `environment: [KEY]` and `KEY:` with no value take the client's value: send those too. */
function bareEnvironmentKeys(content: string): Set<string> {
  const doc = safeYaml(content) as { services?: Record<string, { environment?: unknown }> } | undefined;
  const keys = new Set<string>();
  for (const s of Object.values(doc?.services ?? {})) {
    const e = s?.environment;
    if (Array.isArray(e)) for (const kv of e) if (typeof kv === 'string' && !kv.includes('=')) keys.add(kv);
    if (e && typeof e === 'object' && !Array.isArray(e)) for (const [k, v] of Object.entries(e)) if (v === null) keys.add(k);
  }
  return keys;
}

function safeYaml(content: string): unknown {
  try {
    return parseYaml(content);
  } catch {
    return undefined;
  }
}

function report(r: ApplyResult, o: FileOpts, verb: 'apply' | 'diff' | 'delete'): void {
  for (const w of r.warnings) process.stderr.write(`WARNING: ${w}\n`);
  if (o.format === 'json') return printJson(r);
  const lines: string[] = [];
  for (const c of r.changes) {
    if (verb === 'apply' && c.change === 'none') {
      lines.push(`${c.kind} ${c.name} unchanged`);
      continue;
    }
    const what = verb === 'delete' ? 'removed' : verb === 'diff' ? wouldSay(c.change) : didSay(c.change);
    lines.push(`${c.kind} ${c.name} ${what}`);
    for (const d of c.diff) lines.push(`  ${d}`);
  }
  if (!lines.length) lines.push(`app ${r.app}: nothing to do`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

const didSay = (c: string) => ({ create: 'created', update: 'updated (rolling out a new revision)', scale: 'scaled', config: 'configured', delete: 'removed', keep: 'kept', none: 'unchanged' })[c] ?? c;
const wouldSay = (c: string) => ({ create: 'would be created', update: 'would be updated (a new revision, rolled out)', scale: 'would be scaled', config: 'would be configured', delete: 'would be removed', keep: 'is kept', none: 'unchanged' })[c] ?? c;
