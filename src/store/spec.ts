import { join } from 'node:path';
import { invalid } from '../core/errors.js';

/** Where the daemon keeps its state (`hull daemon --store`): SQLite under the root, or a prefix of an etcd. */
export type StoreSpec = { kind: 'sqlite'; path: string } | { kind: 'etcd'; endpoints: string[]; prefix: string };

export const DEFAULT_ETCD_PREFIX = '/hull';
const USAGE = 'use sqlite, or etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (e.g. etcd://127.0.0.1:2379/hull)';
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*)$/;
const PREFIX = /^(?:\/[A-Za-z0-9._-]+)+$/;

/**
 * `--store sqlite` (the default: `<root>/hull.db`) or
 * `--store etcd://HOST:PORT[,HOST:PORT...][/PREFIX]` (plain http to etcd's
 * client port; every key under PREFIX, default /hull). Strict: anything else
 * (another scheme, no port, credentials, a query, an empty or odd prefix) is
 * refused before anything starts.
 */
export function parseStoreSpec(spec: string | undefined, root: string): StoreSpec {
  if (spec === undefined || spec === 'sqlite') return { kind: 'sqlite', path: join(root, 'hull.db') };
  const bad = (why: string) => invalid(`--store "${spec}": ${why}: ${USAGE}`);
  if (!spec.startsWith('etcd://')) throw bad(/^[a-z0-9+.-]+:\/\//i.test(spec) ? `unsupported scheme "${spec.split('://')[0]}"` : 'unsupported store');
  const rest = spec.slice('etcd://'.length);
  const slash = rest.indexOf('/');
  const hosts = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? DEFAULT_ETCD_PREFIX : rest.slice(slash);
  if (!hosts) throw bad('no HOST:PORT');
  const endpoints = hosts.split(',').map((hp) => `http://${hostPort(hp, bad)}`);
  if (new Set(endpoints).size !== endpoints.length) throw bad('an endpoint is given twice');
  if (!PREFIX.test(prefix)) throw bad(`prefix "${prefix}" must be /NAME[/NAME...] of letters, digits, ".", "_" and "-", without a trailing "/"`);
  return { kind: 'etcd', endpoints, prefix };
}

function hostPort(hp: string, bad: (why: string) => Error): string {
  const m = /^(.*):(\d{1,5})$/.exec(hp);
  if (!m) throw bad(`"${hp}" is not HOST:PORT`);
  const [, host, port] = m;
  if (!HOST.test(host)) throw bad(`"${host}" is not a host name or address`);
  if (Number(port) < 1 || Number(port) > 65535) throw bad(`port ${port} is out of range`);
  return `${host}:${Number(port)}`;
}

/** The store as `hull info` names it. */
export function describeStore(s: StoreSpec): string {
  return s.kind === 'sqlite' ? `sqlite ${s.path}` : `etcd ${s.endpoints.join(',')} (prefix ${s.prefix})`;
}
