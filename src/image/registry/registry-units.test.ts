import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CredentialStore } from './credentials.js';
import { Endpoints } from './endpoint.js';
import { choosePlatform, parsePlatform } from './manifests.js';
import { mapLimit } from './progress.js';
import { registryHost } from './registry-service.js';

const d = (architecture: string, variant?: string) => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${architecture.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a')}`,
  size: 1,
  platform: { os: 'linux', architecture, variant },
});

describe('platform selection', () => {
  it('takes os and architecture, prefers no variant, and honours a variant asked for', () => {
    const idx = [d('arm', 'v6'), d('arm', 'v7'), d('arm64', 'v8'), d('amd64')];
    expect(choosePlatform(idx, { os: 'linux', architecture: 'amd64' })).toBe(idx[3]);
    expect(choosePlatform(idx, { os: 'linux', architecture: 'arm64' })).toBe(idx[2]);
    expect(choosePlatform(idx, { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(idx[1]);
    expect(choosePlatform(idx, { os: 'linux', architecture: 'arm', variant: 'v5' })).toBeUndefined();
    expect(choosePlatform(idx, { os: 'windows', architecture: 'amd64' })).toBeUndefined();
  });

  it('parses os/arch[/variant], linux by default', () => {
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(() => parsePlatform('linux//')).toThrow(/invalid platform/);
  });
});

describe('registry names and endpoints', () => {
  it('normalises what login and logout are given', () => {
    expect(registryHost('https://index.docker.io/v1/')).toBe('docker.io');
    expect(registryHost('docker.io')).toBe('docker.io');
    expect(registryHost('http://127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(registryHost('Registry.Example.com:443')).toBe('registry.example.com:443');
    expect(() => registryHost('not a host')).toThrow();
  });

  it('treats loopback and --insecure-registry hosts as insecure, and nothing else', async () => {
    const e = new Endpoints(['reg.test:5000', '10.1.2.3']);
    try {
      for (const h of ['127.0.0.1:5000', '127.8.9.1', 'localhost:5000', '[::1]:5000', 'reg.test:5000', '10.1.2.3:443']) expect(e.isInsecure(h), h).toBe(true);
      for (const h of ['docker.io', 'reg.test:5001', '10.1.2.4', 'quay.io']) expect(e.isInsecure(h), h).toBe(false);
      expect((await e.resolve('docker.io')).base).toBe('https://registry-1.docker.io');
      expect((await e.resolve('quay.io')).base).toBe('https://quay.io');
    } finally {
      await e.close();
    }
    expect(() => new Endpoints(['http://x'])).toThrow(/expected HOST or HOST:PORT/);
  });
});

describe('CredentialStore', () => {
  let dir: string;
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps logins root-only, in docker config form, and forgets them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hull-creds-'));
    const c = new CredentialStore(join(dir, 'auth.json'));
    expect(await c.get('r:5000')).toBeUndefined();
    await Promise.all([c.set('r:5000', { username: 'u', password: 'p:w' }), c.set('docker.io', { username: 'v', password: 'q' })]);
    expect((await stat(join(dir, 'auth.json'))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(join(dir, 'auth.json'), 'utf8')).auths['r:5000']).toEqual({ auth: Buffer.from('u:p:w').toString('base64') });
    expect(await c.get('r:5000')).toEqual({ username: 'u', password: 'p:w' });
    expect(await c.remove('r:5000')).toBe(true);
    expect(await c.remove('r:5000')).toBe(false);
    expect(await c.get('docker.io')).toEqual({ username: 'v', password: 'q' });
    await expect(c.set('x', { username: 'a:b', password: 'c' })).rejects.toThrow(/username/);
    await writeFile(join(dir, 'auth.json'), '{nope');
    await expect(c.get('x')).rejects.toThrow(/not valid JSON/);
  });
});

describe('mapLimit', () => {
  it('runs at most `limit` at once, keeps order, and settles everything before failing', async () => {
    let active = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (x) => {
      peak = Math.max(peak, ++active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      return x * 2;
    });
    expect(out).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(peak).toBe(3);
    const started: number[] = [];
    await expect(
      mapLimit([1, 2, 3, 4], 2, async (x) => {
        started.push(x);
        await new Promise((r) => setTimeout(r, x));
        if (x === 1) throw new Error('one');
      }),
    ).rejects.toThrow('one');
    expect(active).toBe(0);
  });
});
