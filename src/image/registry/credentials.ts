import { randomBytes } from 'node:crypto';
import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { invalid } from '../../core/errors.js';

export interface Credential {
  username: string;
  password: string;
}

interface AuthFile {
  auths: Record<string, { auth: string }>;
}

/**
 * CredentialStore: registry logins in `<root>/auth.json`, in docker's
 * config.json shape (`{"auths": {"host": {"auth": base64("user:pass")}}}`),
 * readable by root only (0600, written to a temp file and renamed so a crash
 * never leaves half a file). Keys are registry names as references spell
 * them (`docker.io`, `127.0.0.1:5000`). Writes are serialised in-process.
 *
 *   await creds.set('127.0.0.1:5000', { username: 'u', password: 'p' });
 *   await creds.get('127.0.0.1:5000');   // { username: 'u', password: 'p' }
 */
export class CredentialStore {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  async get(host: string): Promise<Credential | undefined> {
    const entry = (await this.read()).auths[host];
    if (!entry) return undefined;
    const text = Buffer.from(entry.auth, 'base64').toString();
    const colon = text.indexOf(':');
    if (colon < 0) throw invalid(`${this.path}: the entry for ${host} is not base64("user:password")`);
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }

  set(host: string, cred: Credential): Promise<void> {
    if (cred.username.includes(':')) return Promise.reject(invalid('a username cannot contain ":"'));
    return this.modify((f) => {
      f.auths[host] = { auth: Buffer.from(`${cred.username}:${cred.password}`).toString('base64') };
      return true;
    });
  }

  /** False when there was no login for `host`. */
  async remove(host: string): Promise<boolean> {
    let had = false;
    await this.modify((f) => {
      had = host in f.auths;
      delete f.auths[host];
      return had;
    });
    return had;
  }

  private modify(fn: (f: AuthFile) => boolean): Promise<void> {
    const next = this.chain.then(async () => {
      const f = await this.read();
      if (fn(f)) await this.write(f);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async read(): Promise<AuthFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { auths: {} };
      throw e;
    }
    try {
      const f = JSON.parse(text) as Partial<AuthFile>;
      return { auths: f.auths && typeof f.auths === 'object' ? f.auths : {} };
    } catch {
      throw invalid(`${this.path} is not valid JSON: fix or remove it`);
    }
  }

  private async write(f: AuthFile): Promise<void> {
    const tmp = `${this.path}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(tmp, `${JSON.stringify(f, null, 2)}\n`, { mode: 0o600 });
      await chmod(tmp, 0o600); // the umask cannot widen it, but an existing file's mode could
      await rename(tmp, this.path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }
}
