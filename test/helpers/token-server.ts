import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  /** Every token request: the scopes asked for and the user (undefined: anonymous). */
  requests: Array<{ scopes: string[]; user?: string }>;
  /** A token for `scopes`, as the server would issue it to `user`. */
  mint(scopes: string[], user?: string): string;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * A token server for the registry's `auth.token` mode (docker's bearer
 * token flow): it checks Basic credentials against one user and issues
 * RS256 JWTs granting what was asked, signed with a key whose self-signed
 * certificate is the registry's `rootcertbundle` (sent in the `x5c` header).
 */
export async function startTokenServer(dir: string, user: string, password: string): Promise<TokenServer> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=hull-test-token'], { stdio: 'pipe' });
  const key = createPrivateKey(await readFile(keyPath));
  const certDer = (await readFile(certPath, 'utf8')).replace(/-----[A-Z ]+-----|\s/g, '');
  const service = 'hull-test-registry';
  const issuer = 'hull-test-issuer';
  const requests: TokenServer['requests'] = [];

  const mint = (scopes: string[], sub = '') => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map((s) => {
      const [type, name, actions] = s.split(':');
      return { type, name, actions: actions.split(',') };
    });
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [certDer] }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access }));
    return `${header}.${claims}.${b64url(sign('sha256', Buffer.from(`${header}.${claims}`), key))}`;
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [u, p] = basic ? Buffer.from(basic, 'base64').toString().split(':') : [];
    requests.push({ scopes, user: u });
    if (url.pathname !== '/token' || url.searchParams.get('service') !== service || u !== user || p !== password) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: mint(scopes, u), expires_in: 300 }));
  });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPath,
    requests,
    mint,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}
