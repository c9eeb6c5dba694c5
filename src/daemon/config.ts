import { HullError } from '../core/errors.js';
import { parseSize } from '../core/units.js';
import { parseLogOpts, withLogDefaults, type LogConfig } from '../core/log-config.js';
import { parseStoreSpec, type StoreSpec } from '../store/spec.js';

/** Where the daemon listens and keeps its state: flags, then environment, then defaults. */
export interface DaemonConfig {
  socketPath: string;
  root: string;
  /** Registries reached without verified TLS (`--insecure-registry HOST[:PORT]`); loopback ones always are. */
  insecureRegistries?: string[];
  /** The writable-layer size of a container that gives none (`--storage-opt size=`); no limit when absent. */
  defaultStorageBytes?: number;
  /** How containers' and VMs' logs are kept unless their create says (`--log-opt max-size=20m --log-opt max-file=5`). */
  logDefaults: LogConfig;
  /** Where to serve the Docker Engine API (`--docker-socket PATH`); absent: not served. */
  dockerSocket?: string;
  /** Where the state is kept (`--store`, env HULL_STORE): SQLite in <root>/hull.db unless an etcd is named. */
  store: StoreSpec;
  /** Where the web dashboard listens (`--dashboard HOST:PORT|off`, env HULL_DASHBOARD); absent: off. */
  dashboard?: { host: string; port: number };
}

/** The dashboard's address unless told otherwise: loopback only, as it has no TLS yet. */
export const DEFAULT_DASHBOARD = '127.0.0.1:7700';

/** `--dashboard 127.0.0.1:7700`, `[::1]:7700`, `:7700` (loopback), `0.0.0.0:7700`, or `off`. */
export function parseDashboard(v: string): { host: string; port: number } | undefined {
  if (v === 'off' || v === 'none' || v === 'false') return undefined;
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(v);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new HullError('invalid', `--dashboard "${v}": use HOST:PORT (e.g. 127.0.0.1:7700) or off`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export const DEFAULT_HOST = 'unix:///run/hull/hull.sock';
export const DEFAULT_ROOT = '/var/lib/hull';

/** `unix:///run/hull/hull.sock` or a bare absolute path: Hull listens on a unix socket only (dockerd's tcp:// is not offered). */
export function socketPathFromHost(host: string): string {
  const path = host.startsWith('unix://') ? host.slice('unix://'.length) : host;
  if (path.startsWith('/')) return path;
  throw new HullError('invalid', `unsupported host "${host}": use unix:///path/to/hull.sock (an absolute path; Hull listens on a unix socket only)`);
}

export function resolveHost(flag?: string): string {
  return flag ?? process.env.HULL_HOST ?? DEFAULT_HOST;
}

/** `hull daemon --storage-opt size=SIZE` (repeatable, as docker's; size is the one option). */
export function parseDaemonStorageOpts(opts: string[] = []): number | undefined {
  let size: number | undefined;
  for (const o of opts) {
    const m = /^size=(.+)$/.exec(o);
    if (!m) throw new HullError('invalid', `unsupported --storage-opt "${o}": use size=SIZE (e.g. size=10g)`);
    size = parseSize(m[1]);
  }
  return size;
}

export function resolveConfig(flags: { host?: string; root?: string; insecureRegistries?: string[]; storageOpts?: string[]; logOpts?: string[]; dockerSocket?: string; store?: string; dashboard?: string }): DaemonConfig {
  const root = flags.root ?? process.env.HULL_ROOT ?? DEFAULT_ROOT;
  // conmon's attach socket lives at <root>/containers/<64-hex id>/attach and a
  // unix socket path must fit in 108 bytes.
  if (root.length > 24) throw new HullError('invalid', `--root "${root}" is too long (${root.length} characters; at most 24, as unix socket paths are limited)`);
  const defaultStorageBytes = parseDaemonStorageOpts(flags.storageOpts);
  const logDefaults = withLogDefaults(parseLogOpts(flags.logOpts ?? []));
  const store = parseStoreSpec(flags.store ?? (process.env.HULL_STORE || undefined), root);
  const dockerSocket = flags.dockerSocket ? socketPathFromHost(flags.dockerSocket) : undefined;
  if (dockerSocket && dockerSocket === socketPathFromHost(resolveHost(flags.host))) throw new HullError('invalid', `--docker-socket ${dockerSocket} is Hull's own API socket: give the Docker API a socket of its own`);
  const dashboard = parseDashboard(flags.dashboard ?? (process.env.HULL_DASHBOARD || DEFAULT_DASHBOARD));
  return { ...(dashboard ? { dashboard } : {}), socketPath: socketPathFromHost(resolveHost(flags.host)), root, insecureRegistries: flags.insecureRegistries ?? [], ...(defaultStorageBytes ? { defaultStorageBytes } : {}), logDefaults, ...(dockerSocket ? { dockerSocket } : {}), store };
}
