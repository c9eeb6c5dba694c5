import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError } from '../../core/errors.js';

/**
 * Resolve a docker-style `--user` (`''`, `1000`, `1000:1000`, `name`,
 * `name:group`, `1000:group`) to ids, reading the image's /etc/passwd and
 * /etc/group the way runc's `GetExecUser` does (and so docker and podman):
 *  - a numeric user needs no passwd entry; one that has an entry gets its gid;
 *  - an explicit group replaces the primary gid and drops supplementary groups;
 *  - otherwise the supplementary groups are those listing the user by name.
 * `''` means root. The files are read inside the rootfs as if chrooted: a
 * symlink there, absolute or climbing with `..`, never reaches the host's files.
 */
export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 0xfffffffe; // (uid_t)-1 is "no change" to the kernel
const MAX_DB_BYTES = 4 << 20;

export async function resolveUser(rootfs: string, user: string): Promise<ResolvedUser> {
  const spec = user.trim();
  const colon = spec.indexOf(':');
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  const groupArg = colon < 0 ? '' : spec.slice(colon + 1);
  if (colon >= 0 && (userArg === '' || groupArg === '')) throw invalid(`invalid user "${user}": use user[:group]`);

  const passwd = parsePasswd((await readScoped(rootfs, '/etc/passwd')) ?? '');
  const u = findUser(passwd, userArg === '' ? '0' : userArg);
  if (groupArg !== '') return { uid: u.uid, gid: await explicitGid(rootfs, groupArg), additionalGids: [] };
  if (u.name === '') return { uid: u.uid, gid: u.gid, additionalGids: [] };
  const groups = parseGroup((await readScoped(rootfs, '/etc/group')) ?? '');
  const additionalGids = groups.filter((g) => g.members.includes(u.name)).map((g) => g.gid);
  return { uid: u.uid, gid: u.gid, additionalGids: [...new Set(additionalGids)] };
}

function findUser(passwd: PasswdEntry[], arg: string): PasswdEntry {
  const id = parseId(arg);
  const entry = passwd.find((e) => (id === undefined ? e.name === arg : e.uid === id));
  if (entry) return entry;
  if (id !== undefined) return { name: '', uid: id, gid: 0 };
  throw invalid(`unable to find user ${arg}: no matching entries in passwd file`);
}

async function explicitGid(rootfs: string, arg: string): Promise<number> {
  const id = parseId(arg);
  if (id !== undefined) return id;
  const groups = parseGroup((await readScoped(rootfs, '/etc/group')) ?? '');
  const g = groups.find((e) => e.name === arg);
  if (!g) throw invalid(`unable to find group ${arg}: no matching entries in group file`);
  return g.gid;
}

/** A decimal id in range, undefined for a name. A name may not look like a number. */
function parseId(s: string): number | undefined {
  if (!/^\d+$/.test(s)) {
    if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/.test(s)) throw invalid(`invalid user or group name "${s}"`);
    return undefined;
  }
  const n = Number(s);
  if (n > MAX_ID) throw invalid(`invalid id ${s}: above ${MAX_ID}`);
  return n;
}

const invalid = (msg: string) => new HullError('invalid', msg);

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const f of fields(text)) {
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (f[0] && /^\d+$/.test(f[2] ?? '') && /^\d+$/.test(f[3] ?? '')) out.push({ name: f[0], uid, gid });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const f of fields(text)) {
    if (!f[0] || !/^\d+$/.test(f[2] ?? '')) continue;
    const members = (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean);
    out.push({ name: f[0], gid: Number(f[2]), members });
  }
  return out;
}

function fields(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

/**
 * Read `path` inside `rootfs` as a process chrooted there would: every
 * symlink is followed by hand with `rootfs` as `/`, and `..` stops at it.
 * Only a regular file is read, opened with O_NOFOLLOW. Undefined if absent.
 */
export async function readScoped(rootfs: string, path: string): Promise<string | undefined> {
  const real = await resolveInRoot(rootfs, path);
  if (real === undefined) return undefined;
  let fh;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return undefined;
    throw new HullError('invalid', `reading ${path} in the image: ${(e as Error).message}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new HullError('invalid', `${path} in the image is not a regular file`);
    if (st.size > MAX_DB_BYTES) throw new HullError('invalid', `${path} in the image is too large`);
    return (await fh.readFile()).toString('utf8');
  } finally {
    await fh.close();
  }
}

const MAX_SYMLINKS = 40; // as the kernel's ELOOP limit

/** Host path of `path` inside `rootfs`, following symlinks scoped to it; undefined if a component is missing. */
async function resolveInRoot(rootfs: string, path: string): Promise<string | undefined> {
  let todo = path.split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = join(rootfs, ...done, part);
    let st;
    try {
      st = await lstat(host);
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return undefined;
      throw e;
    }
    if (!st.isSymbolicLink()) {
      done.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw new HullError('invalid', `too many levels of symbolic links resolving ${path} in the image`);
    const target = await readlink(host);
    if (target.startsWith('/')) done.length = 0;
    todo = [...target.split('/').filter(Boolean), ...todo];
  }
  return join(rootfs, ...done);
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === code;
}
