import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * docs/docker-compat.md, from the last run of test/integration/docker-*.test.ts:
 * each test records what it covered and whether it passed
 * (build/docker-compat/<suite>.json), and the daemon it drove logged every
 * Docker API request (build/docker-compat/trace-<suite>.jsonl, with
 * HULL_DOCKER_TRACE). Nothing here is written by hand but the notes.
 *
 *   npx vitest run test/integration/docker-   # the docker suites
 *   node dist/scripts/gen-docker-compat.js docs/docker-compat.md
 */
interface SuiteFile {
  suite: string;
  kind: 'cli' | 'compose' | 'sdk' | 'api';
  date: string;
  results: Record<string, Record<string, 'pass' | 'fail'>>;
}

interface TraceLine {
  method: string;
  endpoint: string;
  status: number;
  client: string;
  version?: string;
}

const REPO = resolve(import.meta.dirname ?? '.', '..', '..');
const DIR = join(REPO, 'build', 'docker-compat');

const mark = (r: 'pass' | 'fail' | undefined) => (r === 'pass' ? 'works' : r === 'fail' ? '**fails**' : '—');

/** Who sent a request, from its User-Agent (dockerode sends none; the API suite's own requests neither). */
function clientOf(ua: string, suite: string): string {
  let m = /^Docker-Client\/(\d+\.\d+)/.exec(ua);
  if (m) return `docker ${m[1]}`;
  m = /^docker-compose\/(\d+\.\d+)/.exec(ua);
  if (m) return `docker-compose ${m[1]}`;
  m = /^tc-node\/(\d+\.\d+)/.exec(ua);
  if (m) return `testcontainers ${m[1]}`;
  if (ua === '') return suite === 'sdk' ? 'dockerode' : 'raw HTTP (docker-api.test.ts)';
  // docker's CLI made to speak API 1.24 (DOCKER_API_VERSION) sends no agent of its own: Go's.
  if (ua.startsWith('Go-http-client/')) return 'docker at API 1.24 (Go-http-client)';
  return ua.replace(/\s.*/, '');
}

function suites(): SuiteFile[] {
  if (!existsSync(DIR)) throw new Error(`${DIR} is missing: run the docker suites first (npx vitest run test/integration/docker-)`);
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as SuiteFile);
}

function traces(): Array<TraceLine & { suite: string }> {
  return readdirSync(DIR)
    .filter((f) => /^trace-.*\.jsonl$/.test(f))
    .flatMap((f) => {
      const suite = f.slice('trace-'.length, -'.jsonl'.length);
      return readFileSync(join(DIR, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => ({ ...(JSON.parse(l) as TraceLine), suite }));
    });
}

function featureTable(s: SuiteFile[], kind: SuiteFile['kind'], first: string): string[] {
  const rows = s.filter((x) => x.kind === kind);
  const clients = [...new Set(rows.flatMap((x) => Object.values(x.results).flatMap((r) => Object.keys(r))))].sort().reverse();
  const features = [...new Set(rows.flatMap((x) => Object.keys(x.results)))];
  const out = [`| ${first} | ${clients.join(' | ')} |`, `|---|${clients.map(() => '---').join('|')}|`];
  for (const f of features) {
    const r = Object.assign({}, ...rows.map((x) => x.results[f] ?? {})) as Record<string, 'pass' | 'fail'>;
    out.push(`| \`${f}\` | ${clients.map((c) => mark(r[c])).join(' | ')} |`);
  }
  return out;
}

function endpointTable(t: Array<TraceLine & { suite: string }>): string[] {
  const key = (l: TraceLine) => `${l.method} ${l.endpoint.replace(/:(\w+)/g, '{$1}')}`;
  const byKey = new Map<string, { clients: Set<string>; statuses: Set<number> }>();
  // Requests for no endpoint at all are the API suite's own probes (404 page not found), not a client's.
  for (const l of t.filter((x) => x.endpoint !== '(no route)')) {
    const e = byKey.get(key(l)) ?? { clients: new Set(), statuses: new Set() };
    e.clients.add(clientOf(l.client, l.suite));
    e.statuses.add(l.status);
    byKey.set(key(l), e);
  }
  const out = ['| endpoint | called by | statuses seen | |', '|---|---|---|---|'];
  const sorted = [...byKey.entries()].sort(([a], [b]) => a.split(' ')[1].localeCompare(b.split(' ')[1]) || a.localeCompare(b));
  for (const [k, e] of sorted) {
    const statuses = [...e.statuses].sort();
    // 501 and 503 are the answers for what Hull does not map; any other 5xx is a failure.
    const broken = statuses.some((s) => s >= 500 && s !== 501 && s !== 503);
    const unmapped = statuses.every((s) => s === 501 || s === 503);
    out.push(`| \`${k}\` | ${[...e.clients].sort().join(', ')} | ${statuses.join(', ')} | ${broken ? '**server error**' : unmapped ? 'not supported' : 'works'} |`);
  }
  return out;
}

/** Each client and the API versions its requests named (unversioned paths count as the newest). */
function clientTable(t: Array<TraceLine & { suite: string }>): string[] {
  const by = new Map<string, Set<string>>();
  for (const l of t) {
    const c = clientOf(l.client, l.suite);
    const vs = by.get(c) ?? new Set<string>();
    if (l.version) vs.add(l.version);
    by.set(c, vs);
  }
  return ['| client | API versions used |', '|---|---|', ...[...by.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([c, vs]) => `| ${c} | ${[...vs].sort().join(', ') || '—'} |`)];
}

export function renderDockerCompat(): string {
  const s = suites();
  const t = traces();
  const date = s.map((x) => x.date).sort().pop() ?? '';
  return [
    '# Docker compatibility',
    '',
    `Generated from the test run of ${date.slice(0, 10)} (\`test/integration/docker-*.test.ts\`) by \`node dist/scripts/gen-docker-compat.js docs/docker-compat.md\`: what each test covered and whether it passed, and every request the clients sent to Hull's Docker socket (\`hull daemon --docker-socket\`). "works" means the test that drives it with that client passed; "—" that this client was not run on it.`,
    '',
    "How the socket is served, and what differs from dockerd, is in [docker-api.md](docker-api.md).",
    '',
    '## docker CLI commands',
    '',
    ...featureTable(s, 'cli', 'command'),
    '',
    '## docker-compose',
    '',
    ...featureTable(s, 'compose', 'feature'),
    '',
    '## SDKs',
    '',
    ...featureTable(s, 'sdk', 'feature'),
    '',
    '## The API itself: negotiation, errors, and what is not mapped',
    '',
    ...featureTable(s, 'api', 'behaviour'),
    '',
    '## Clients',
    '',
    ...clientTable(t),
    '',
    '## Engine API endpoints the clients used',
    '',
    'Every endpoint a client called during the run, who called it and the statuses it got (4xx are the errors the tests provoke; 501 and 503 are the answers for what Hull does not map).',
    '',
    ...endpointTable(t),
    '',
  ].join('\n');
}

const out = process.argv[2];
if (out) writeFileSync(out, renderDockerCompat());
else process.stdout.write(renderDockerCompat());
