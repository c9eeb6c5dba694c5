import { invalid } from './errors.js';
import { parseSize } from './units.js';
import { PROPAGATIONS, type InstanceMount, type Propagation } from './volume.js';

/**
 * docker's mount flags, parsed into the create request's `mounts` (pure: the
 * CLI calls these; the API takes the parsed shape):
 *
 *   -v NAME:/path[:opts]        a named volume (made on first use)
 *   -v /host:/path[:opts]       a bind mount; a missing host directory is made
 *   -v /path                    an anonymous volume
 *   --mount type=volume|bind|tmpfs,source=…,target=…,readonly,…
 *                               docker's option names; a missing bind source is an error
 *   --tmpfs /path[:size=64m,mode=1777]
 *
 * `-v` options: ro, rw, z, Z (accepted, no SELinux here), nocopy, and a bind
 * propagation (rprivate default). A relative host path (./x) is resolved by
 * the caller against its working directory, as docker's CLI does.
 */
export type MountRequest = InstanceMount;


export function parseVolumeFlag(spec: string, cwd = '/'): MountRequest {
  const bad = (why: string) => invalid(`invalid -v ${JSON.stringify(spec)}: ${why}`);
  if (spec.includes('\0')) throw bad('it holds a NUL byte');
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) throw bad('use NAME:/path[:opts], /host/path:/path[:opts] or /path');
  if (parts.length === 1) return { type: 'volume', source: '', target: parts[0], readOnly: false };
  const [rawSource, target, opts = ''] = parts;
  const source = /^\.\.?(\/|$)/.test(rawSource) ? joinPath(cwd, rawSource) : rawSource;
  const m: MountRequest = source.startsWith('/')
    ? { type: 'bind', source, target, readOnly: false, createHostPath: true }
    : { type: 'volume', source, target, readOnly: false };
  return withVolumeOpts(m, opts, bad);
}

function withVolumeOpts(m: MountRequest, opts: string, bad: (why: string) => Error): MountRequest {
  for (const o of opts.split(',').filter(Boolean)) {
    if (o === 'ro' || o === 'readonly') m.readOnly = true;
    else if (o === 'rw') m.readOnly = false;
    else if (o === 'z' || o === 'Z' || o === 'consistent' || o === 'cached' || o === 'delegated') continue;
    else if (o === 'nocopy') {
      if (m.type !== 'volume') throw bad('nocopy is for volumes, not bind mounts');
      m.noCopy = true;
    } else if (PROPAGATIONS.includes(o as Propagation)) {
      if (m.type !== 'bind') throw bad(`${o} is for bind mounts`);
      m.propagation = o as Propagation;
    } else throw bad(`unknown option "${o}" (ro, rw, z, Z, nocopy, or a propagation)`);
  }
  return m;
}

/** `--mount type=…,source=…,target=…`: docker's key names and defaults (type volume). */
export function parseMountFlag(spec: string): MountRequest {
  const bad = (why: string) => invalid(`invalid --mount ${JSON.stringify(spec)}: ${why}`);
  if (spec.includes('\0')) throw bad('it holds a NUL byte');
  const kv = new Map<string, string | undefined>();
  for (const field of spec.split(',')) {
    if (!field) continue;
    const i = field.indexOf('=');
    const k = (i < 0 ? field : field.slice(0, i)).trim().toLowerCase();
    const v = i < 0 ? undefined : field.slice(i + 1);
    if (k === 'volume-opt') {
      kv.set(`volume-opt.${(v ?? '').split('=')[0]}`, (v ?? '').split('=').slice(1).join('='));
      continue;
    }
    if (kv.has(k)) throw bad(`"${k}" is given twice`);
    kv.set(k, v);
  }
  const type = kv.get('type') ?? 'volume';
  if (type !== 'volume' && type !== 'bind' && type !== 'tmpfs') throw bad(`type must be volume, bind or tmpfs, not "${type}"`);
  const target = kv.get('target') ?? kv.get('destination') ?? kv.get('dst');
  if (!target) throw bad('target is required');
  const source = kv.get('source') ?? kv.get('src') ?? '';
  const m: MountRequest = { type, source, target, readOnly: false };
  for (const [k, v] of kv) applyMountKey(m, k, v, bad);
  if (type === 'bind' && !source) throw bad('a bind mount needs a source');
  if (type === 'tmpfs' && source) throw bad('a tmpfs has no source');
  return m;
}

function applyMountKey(m: MountRequest, k: string, v: string | undefined, bad: (why: string) => Error): void {
  const only = (t: MountRequest['type']) => {
    if (m.type !== t) throw bad(`"${k}" is for type=${t}`);
  };
  switch (k) {
    case 'type': case 'source': case 'src': case 'target': case 'destination': case 'dst': return;
    case 'readonly': case 'ro':
      m.readOnly = boolValue(v, k, bad);
      return;
    case 'bind-propagation':
      only('bind');
      if (!v || !PROPAGATIONS.includes(v as Propagation)) throw bad(`bind-propagation must be one of ${PROPAGATIONS.join(', ')}`);
      m.propagation = v as Propagation;
      return;
    case 'bind-nonrecursive': case 'consistency':
      return;
    case 'volume-nocopy':
      only('volume');
      m.noCopy = boolValue(v, k, bad);
      return;
    case 'volume-driver':
      only('volume');
      if (v !== 'local' && v !== 'block') throw bad('volume-driver must be local or block');
      m.volumeOptions = { ...m.volumeOptions, driver: v };
      return;
    case 'tmpfs-size':
      only('tmpfs');
      m.tmpfsSize = parseSize(v ?? '');
      return;
    case 'tmpfs-mode':
      only('tmpfs');
      if (!v || !/^[0-7]{1,4}$/.test(v)) throw bad('tmpfs-mode is an octal mode such as 1777');
      m.tmpfsMode = parseInt(v, 8);
      return;
    default:
      if (k.startsWith('volume-opt.')) {
        only('volume');
        m.volumeOptions = { ...m.volumeOptions, [k.slice('volume-opt.'.length)]: v ?? '' };
        return;
      }
      throw bad(`unknown key "${k}"`);
  }
}

/** `--tmpfs /path[:size=64m,mode=1777]`. */
export function parseTmpfsFlag(spec: string): MountRequest {
  const i = spec.indexOf(':');
  const target = i < 0 ? spec : spec.slice(0, i);
  const m: MountRequest = { type: 'tmpfs', source: '', target, readOnly: false };
  for (const o of (i < 0 ? '' : spec.slice(i + 1)).split(',').filter(Boolean)) {
    const [k, v] = [o.split('=')[0], o.split('=').slice(1).join('=')];
    if (k === 'size') m.tmpfsSize = parseSize(v);
    else if (k === 'mode' && /^[0-7]{1,4}$/.test(v)) m.tmpfsMode = parseInt(v, 8);
    else if (k === 'ro') m.readOnly = true;
    else if (k === 'rw' || k === 'noexec' || k === 'nosuid' || k === 'nodev' || k === 'exec') continue;
    else throw invalid(`invalid --tmpfs ${JSON.stringify(spec)}: unknown option "${o}" (size=, mode=, ro)`);
  }
  return m;
}

/** `--volumes-from CONTAINER[:ro|:rw]`. */
export function parseVolumesFrom(spec: string): { container: string; mode?: 'ro' | 'rw' } {
  const [container, mode, extra] = spec.split(':');
  if (!container || extra !== undefined || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) throw invalid(`invalid --volumes-from ${JSON.stringify(spec)}: use CONTAINER[:ro|:rw]`);
  return { container, mode: mode as 'ro' | 'rw' | undefined };
}

function boolValue(v: string | undefined, k: string, bad: (why: string) => Error): boolean {
  if (v === undefined || v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw bad(`${k} takes true or false`);
}

function joinPath(cwd: string, rel: string): string {
  const out: string[] = cwd.split('/').filter(Boolean);
  for (const p of rel.split('/')) {
    if (p === '..') out.pop();
    else if (p && p !== '.') out.push(p);
  }
  return `/${out.join('/')}`;
}
