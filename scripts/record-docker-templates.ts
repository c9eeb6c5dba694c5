import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Fills the `want` of each case in src/cli/template/testdata/docker-cases.json
 * with what docker's own client prints for it: the client formats
 * (`--format`) on its side, so a fake Engine API on a unix socket serving the
 * file's `data` is all it needs. Run where the docker client is installed:
 *   node dist/scripts/record-docker-templates.js src/cli/template/testdata/docker-cases.json
 */
interface Case {
  verb: 'inspect' | 'ps' | 'images';
  format: string;
  want?: { stdout: string; stderr: string; code: number };
}

const file = process.argv[2];
if (!file) throw new Error('usage: record-docker-templates.js CASES.json');
const doc = JSON.parse(readFileSync(file, 'utf8')) as { data: Record<string, unknown>; cases: Case[]; recorded: unknown };

const routes: Record<string, unknown> = { '/containers/json': doc.data.ps, '/containers/web/json': doc.data.inspect, '/images/json': doc.data.images };
const dir = mkdtempSync(join(tmpdir(), 'fake-docker-'));
const sock = join(dir, 'docker.sock');
const server = http.createServer((req, res) => {
  const path = (req.url ?? '').replace(/^\/v[\d.]+/, '').split('?')[0];
  res.setHeader('Api-Version', '1.45');
  if (path === '/_ping') return res.end('OK');
  const body = routes[path];
  res.setHeader('Content-Type', 'application/json');
  if (body === undefined) {
    res.statusCode = 404;
    return res.end(JSON.stringify({ message: `no such object: ${path}` }));
  }
  res.end(JSON.stringify(body));
});

server.listen(sock, async () => {
  try {
    const version = spawnSync('docker', ['--version'], { encoding: 'utf8' }).stdout.trim();
    for (const c of doc.cases) {
      const args = c.verb === 'inspect' ? ['inspect', '--type', 'container', '-f', c.format, 'web'] : [c.verb, '--format', c.format];
      // The client runs in its own process: the server answers meanwhile.
      const r = await new Promise<{ stdout: string; stderr: string; code: number }>((resolve) => {
        const p = spawn('docker', ['-H', `unix://${sock}`, ...args], { env: { ...process.env, TZ: 'UTC', DOCKER_CONFIG: dir } });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        p.on('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
      });
      c.want = r;
    }
    doc.recorded = { by: version, at: new Date().toISOString() };
    writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
