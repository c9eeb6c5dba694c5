import bcrypt from 'bcryptjs';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageService } from '../../src/image/image-service.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { TestDaemon } from '../helpers/hull.js';
import { imageLayout, randomLayer } from '../helpers/image-fixtures.js';
import { type Registry, startProxy, startRegistry } from '../helpers/registry.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';

/**
 * Registries that want credentials: distribution 2.8 with htpasswd (Basic
 * auth) and with token auth (docker's bearer flow, against a token server
 * the test runs), logins kept root-only, and credentials never sent to
 * another origin on a redirect.
 */
const USER = 'alice';
const PASS = 's3cret-pass';
let work: string;
let basic: Registry;
let bearer: Registry;
let tokens: TokenServer;
let d1: TestDaemon;
let d2: TestDaemon;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hull-registry-auth-'));
  const htpasswd = join(work, 'htpasswd');
  await writeFile(htpasswd, `${USER}:${bcrypt.hashSync(PASS, 4)}\n`);
  tokens = await startTokenServer(work, USER, PASS);
  [basic, bearer, d1, d2] = await Promise.all([
    startRegistry(join(work, 'basic'), { htpasswd: { realm: 'hull-test', path: htpasswd } }),
    startRegistry(join(work, 'bearer'), { token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootcertbundle: tokens.certPath } }),
    TestDaemon.start(),
    TestDaemon.start(),
  ]);
});

afterAll(async () => {
  await Promise.allSettled([d1?.destroy(), d2?.destroy(), basic?.stop(), bearer?.stop(), tokens?.stop()]);
  await rm(work, { recursive: true, force: true });
});

const login = (d: TestDaemon, host: string, password = PASS) => d.hull(['login', '-u', USER, '--password-stdin', host], { input: `${password}\n` });

describe.each([
  ['basic auth (htpasswd)', () => basic],
  ['bearer tokens', () => bearer],
])('a registry with %s', (_name, reg) => {
  it('refuses without a login, and refuses a wrong password at login, clearly', async () => {
    const host = reg().host;
    await d1.ok(['tag', 'busybox', `${host}/x/busybox:1`]);
    const anon = await d1.hull(['push', `${host}/x/busybox:1`]);
    expect(anon.code).toBe(1);
    expect(anon.stderr).toContain(`registry ${host}: unauthorized: authentication required (run: hull login ${host})`);

    const wrong = await login(d1, host, 'not-it');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`registry ${host}: unauthorized: incorrect username or password`);
    expect(await readFile(join(d1.root, 'auth.json'), 'utf8').catch(() => '')).not.toContain(host);
  });

  it('logs in, keeps the login root-only, pushes, pulls elsewhere, and logs out', async () => {
    const host = reg().host;
    expect((await login(d1, host)).stdout).toBe('Login Succeeded\n');
    const file = join(d1.root, 'auth.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const auths = JSON.parse(await readFile(file, 'utf8')).auths;
    expect(Buffer.from(auths[host].auth, 'base64').toString()).toBe(`${USER}:${PASS}`);

    await d1.ok(['push', `${host}/x/busybox:1`]);
    expect((await login(d2, host)).code).toBe(0);
    await d2.ok(['pull', `${host}/x/busybox:1`]);
    expect(await d2.ok(['run', '--rm', `${host}/x/busybox:1`, 'echo', 'authed'])).toBe('authed\n');

    expect(await d1.ok(['logout', host])).toBe(`Removing login credentials for ${host}\n`);
    expect(await d1.ok(['logout', host])).toBe(`Not logged in to ${host}\n`);
    const after = await d1.hull(['push', `${host}/x/busybox:1`]);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/hull login/);
  });
});

describe('bearer tokens', () => {
  it('asks the token server for the scopes each operation needs, once', async () => {
    const host = bearer.host;
    expect((await login(d1, host)).code).toBe(0);
    await d1.ok(['tag', 'busybox', `${host}/x/tokens:1`]);
    tokens.requests.length = 0;
    const push = await d1.ok(['push', `${host}/x/tokens:1`]);
    // One token for the whole push, covering the repository it may mount from.
    expect(tokens.requests).toEqual([{ scopes: ['repository:x/tokens:pull,push', 'repository:x/busybox:pull'], user: USER }]);
    expect(push).toMatch(/: Mounted from x\/busybox/);

    tokens.requests.length = 0;
    await d2.ok(['pull', `${host}/x/tokens:1`]);
    await d2.ok(['pull', `${host}/x/tokens:1`]);
    expect(tokens.requests).toEqual([{ scopes: ['repository:x/tokens:pull'], user: USER }]);
  });

  it('never sends the registry credentials to the storage a blob is redirected to', async () => {
    const proxy = await startProxy(bearer.host);
    try {
      proxy.rules.redirect = true;
      // The "storage" side has its own credentials, as a presigned URL would.
      proxy.rules.storageAuth = `Bearer ${tokens.mint(['repository:x/busybox:pull'])}`;
      expect((await login(d2, proxy.host)).code).toBe(0);
      const id = JSON.parse(await d2.ok(['image', 'inspect', 'busybox']))[0].id;
      await d2.ok(['rmi', '-f', id]);
      await d2.ok(['pull', `${proxy.host}/x/busybox:1`]);
      expect(proxy.stats.storage.length).toBeGreaterThan(0);
      expect(proxy.stats.storage.every((s) => !s.authorization)).toBe(true);
    } finally {
      await proxy.stop();
    }
  });
});

describe('chunked upload', () => {
  it('pushes a large blob in PATCH chunks that skopeo reads back', async () => {
    const root = await mkdtemp(join(work, 'svc-'));
    const store = new SqliteStore(join(root, 'hull.db'));
    const proxy = await startProxy(basic.host);
    try {
      const images = new ImageService(root, store, { pushChunkBytes: 1 << 20 });
      const layout = join(work, 'chunked');
      await imageLayout(layout, [await randomLayer('big', (3 << 20) + 12345 + (8 << 20))]);
      const name = `${proxy.host}/x/chunked:1`;
      await images.importPath(layout, name);
      await images.registry.login(proxy.host, { username: USER, password: PASS });
      const { digest } = await images.registry.push(name);
      // 12 MiB in 1 MiB chunks: a PATCH each, then the closing PUT.
      expect(proxy.stats.requests.filter((r) => r.startsWith('PATCH ')).length).toBe(12);
      const creds = `${USER}:${PASS}`;
      const inspect = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${basic.host}/x/chunked:1`]).toString());
      expect(inspect.Digest).toBe(digest);
      execFileSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--src-creds', creds, `docker://${basic.host}/x/chunked:1`, `oci:${join(work, 'chunked-out')}:t`], { stdio: 'pipe' });
      await images.registry.close();
    } finally {
      await proxy.stop();
      await store.close();
    }
  });
});
