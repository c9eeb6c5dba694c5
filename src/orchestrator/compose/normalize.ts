import { isAbsolute, resolve } from 'node:path';
import { parseDuration } from '../../core/duration.js';
import { HullError } from '../../core/errors.js';
import { parsePublish } from '../../core/port-spec.js';
import type { HealthCheck } from '../../core/health.js';
import { SERVICE_NAME_RE, type ServiceMount, type ServicePort, type ServiceSpec, type UpdateConfig } from '../../core/service.js';
import { parseSize } from '../../core/units.js';
import type { AppNetwork, AppSpec, AppVolume } from './app.js';
import type { ComposeFile, ComposeService, HullServiceExt } from './schema.js';
import type { Path } from './source.js';
import { splitWords } from './words.js';

export interface NormalizeContext {
  app: string;
  /** The directory relative bind sources are resolved against (the file's); absent: they are refused. */
  dir?: string;
  /** The client's environment, for `environment: [KEY]` without a value. */
  env: Record<string, string>;
  /** env_file contents the client sent, by the path the file names. */
  envFiles: Record<string, string>;
  fail: (path: Path, why: string) => HullError;
  warn: (msg: string) => void;
}

/** A validated Compose file → the app Hull keeps: services with their full specs, networks, volumes. */
export function normalize(file: ComposeFile, ext: Record<string, HullServiceExt>, cx: NormalizeContext): AppSpec {
  const networks = Object.entries(file.networks ?? {}).map(([key, n]) => appNetwork(cx.app, key, n));
  if (!networks.some((n) => n.key === 'default')) networks.push({ key: 'default', name: `${cx.app}_default`, external: false, internal: false, labels: {} });
  const volumes = Object.entries(file.volumes ?? {}).map(([key, v]) => appVolume(cx.app, key, v));
  const services = Object.entries(file.services).map(([name, svc]) => {
    if (!SERVICE_NAME_RE.test(name)) throw cx.fail(['services', name], 'a service name is lowercase letters, digits, - and _, at most 63, starting and ending with a letter or digit');
    return serviceSpec(name, svc, ext[name] ?? {}, networks, volumes, cx);
  });
  const used = new Set(services.flatMap((s) => s.spec.networks.map((n) => n.name)));
  return { name: cx.app, services, networks: networks.filter((n) => used.has(n.name) || n.key !== 'default'), volumes };
}

function appNetwork(app: string, key: string, n: NonNullable<ComposeFile['networks']>[string]): AppNetwork {
  const ext = n?.external;
  const external = ext === true || (typeof ext === 'object' && ext !== null);
  const name = typeof ext === 'object' && ext ? ext.name : (n?.name ?? (external ? key : `${app}_${key}`));
  const ipam = n?.ipam?.config?.[0];
  return { key, name, external, internal: n?.internal ?? false, subnet: ipam?.subnet, gateway: ipam?.gateway, ipRange: ipam?.ip_range, labels: dict(n?.labels) };
}

function appVolume(app: string, key: string, v: NonNullable<ComposeFile['volumes']>[string]): AppVolume {
  const ext = v?.external;
  const external = ext === true || (typeof ext === 'object' && ext !== null);
  const name = typeof ext === 'object' && ext ? ext.name : (v?.name ?? (external ? key : `${app}_${key}`));
  return { key, name, external, driverOpts: Object.fromEntries(Object.entries(v?.driver_opts ?? {}).map(([k, x]) => [k, String(x)])), labels: dict(v?.labels) };
}

function serviceSpec(name: string, s: ComposeService, x: HullServiceExt, networks: AppNetwork[], volumes: AppVolume[], cx: NormalizeContext): AppSpec['services'][number] {
  const at = (...p: Path): Path => ['services', name, ...p];
  const guard = <T>(p: Path, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof HullError && !e.message.includes(': services.')) throw cx.fail(p, e.message);
      throw e;
    }
  };
  const isVm = x.vm !== undefined;
  if (isVm && s.image) throw cx.fail(at('image'), 'a VM service takes its image from x-hull.vm.image: remove `image`');
  if (!isVm && !s.image) throw cx.fail(at(), 'no image: give `image`, or `x-hull.vm` for a service of VMs');
  const d = s.deploy ?? {};
  const limits = d.resources?.limits ?? {};
  const reserve = d.resources?.reservations ?? {};
  const mode = d.mode ?? 'replicated';
  if (mode === 'global' && d.replicas !== undefined) throw cx.fail(at('deploy', 'replicas'), 'a global service runs one replica per node: remove `replicas`');
  const replicas = mode === 'global' ? 1 : (d.replicas ?? 1);
  if (replicas < 0 || replicas > 1000) throw cx.fail(at('deploy', 'replicas'), 'must be between 0 and 1000');
  const cpus = limits.cpus ?? s.cpus;
  if (cpus !== undefined && cpus <= 0) throw cx.fail(at('deploy', 'resources', 'limits', 'cpus'), 'must be greater than zero');
  const memory = limits.memory ?? s.mem_limit;
  const spec: ServiceSpec = {
    kind: isVm ? 'vm' : 'container',
    isolation: 'container',
    image: s.image ?? '',
    ...(isVm ? { vm: { image: x.vm!.image, ...(x.vm!.disk !== undefined ? { diskBytes: guard(at('x-hull', 'vm', 'disk'), () => sizeOf(x.vm!.disk!)) } : {}), ...(x.vm!.user_script ? { userScript: x.vm!.user_script } : {}) } } : {}),
    ...(s.command != null ? { command: guard(at('command'), () => words(s.command!)) } : {}),
    ...(s.entrypoint != null ? { entrypoint: guard(at('entrypoint'), () => words(s.entrypoint!)) } : {}),
    env: [...envFileLines(s.env_file, cx, at('env_file')), ...envList(s.environment, cx.env)],
    ...(s.working_dir ? { workingDir: s.working_dir } : {}),
    ...(s.user ? { user: s.user } : {}),
    tty: s.tty ?? false,
    stdinOpen: s.stdin_open ?? false,
    labels: dict(s.labels),
    resources: {
      ...(cpus !== undefined ? { cpus } : {}),
      ...(memory !== undefined ? { memoryBytes: guard(at('deploy', 'resources', 'limits', 'memory'), () => sizeOf(memory)) } : {}),
      ...((limits.pids ?? s.pids_limit) !== undefined ? { pidsLimit: limits.pids ?? s.pids_limit } : {}),
      ...(reserve.cpus !== undefined ? { reserveCpus: reserve.cpus } : {}),
      ...(reserve.memory !== undefined ? { reserveMemoryBytes: guard(at('deploy', 'resources', 'reservations', 'memory'), () => sizeOf(reserve.memory!)) } : {}),
    },
    networks: serviceNetworks(s, networks, cx, at('networks'), replicas),
    ports: guard(at('ports'), () => (s.ports ?? []).flatMap(servicePorts)),
    mounts: [...(s.volumes ?? []).map((v, i) => guard(at('volumes', i), () => mount(v, volumes, cx.dir))), ...tmpfs(s.tmpfs)],
    ...healthOf(s, x, cx, at),
    restart: {
      condition: d.restart_policy?.condition ?? 'any',
      delayMs: guard(at('deploy', 'restart_policy', 'delay'), () => parseDuration(d.restart_policy?.delay ?? '1s', 'delay')),
      maxDelayMs: 30_000,
      maxAttempts: d.restart_policy?.max_attempts ?? 0,
      windowMs: guard(at('deploy', 'restart_policy', 'window'), () => parseDuration(d.restart_policy?.window ?? '10m', 'window')),
    },
    update: guard(at('deploy', 'update_config'), () => updateConfig(d.update_config, x, isVm, 'rollback')),
    rollback: guard(at('deploy', 'rollback_config'), () => updateConfig(d.rollback_config, x, isVm, 'pause')),
    placement: { constraints: d.placement?.constraints ?? [], spread: (d.placement?.preferences ?? []).map((p) => p.spread), maxReplicasPerNode: d.placement?.max_replicas_per_node ?? 0 },
    endpointMode: d.endpoint_mode ?? 'vip',
    ...(x.autoscale ? { autoscale: guard(at('x-hull', 'autoscale'), () => autoscale(x.autoscale!)) } : {}),
    stopGracePeriodMs: guard(at('stop_grace_period'), () => parseDuration(s.stop_grace_period ?? '10s', 'stop_grace_period')),
    stopSignal: s.stop_signal ?? 'SIGTERM',
  };
  if (s.isolation === 'vm' || s.isolation === 'hyperv' || x.isolation === 'vm') spec.isolation = 'vm';
  if (spec.autoscale && (spec.autoscale.min > replicas || spec.autoscale.max < replicas)) {
    throw cx.fail(at('deploy', 'replicas'), `${replicas} replicas is outside x-hull.autoscale's ${spec.autoscale.min}-${spec.autoscale.max}`);
  }
  return { name, replicas, mode, untrusted: x.untrusted ?? false, autoIsolation: x.isolation === 'auto', spec };
}

function words(v: string | string[]): string[] {
  return typeof v === 'string' ? splitWords(v) : v;
}

const sizeOf = (v: string | number) => (typeof v === 'number' ? v : parseSize(v));

export function dict(v: string[] | Record<string, unknown> | undefined): Record<string, string> {
  if (!v) return {};
  if (Array.isArray(v)) {
    return Object.fromEntries(
      v.map((kv) => {
        const i = kv.indexOf('=');
        return i < 0 ? [kv, ''] : [kv.slice(0, i), kv.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x == null ? '' : String(x)]));
}

/** `environment`: a list of `K=V` or `K` (taken from the client's environment, dropped when unset), or a map. */
function envList(v: ComposeService['environment'], env: Record<string, string>): string[] {
  if (!v) return [];
  const pairs: Array<[string, string | undefined]> = Array.isArray(v)
    ? v.map((kv) => {
        const i = kv.indexOf('=');
        return i < 0 ? [kv, env[kv]] : [kv.slice(0, i), kv.slice(i + 1)];
      })
    : Object.entries(v).map(([k, x]) => [k, x == null ? env[k] : String(x)]);
  return pairs.filter((p): p is [string, string] => p[1] !== undefined).map(([k, x]) => `${k}=${x}`);
}

function envFileLines(files: string | string[] | undefined, cx: NormalizeContext, path: Path): string[] {
  const list = files === undefined ? [] : typeof files === 'string' ? [files] : files;
  return list.flatMap((f, i) => {
    const text = cx.envFiles[f];
    if (text === undefined) throw cx.fail([...path, ...(typeof files === 'string' ? [] : [i])], `env file "${f}" was not sent with the file (hull apply reads it next to the Compose file)`);
    return text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.replace(/^export\s+/, ''))
      .map((l) => {
        const eq = l.indexOf('=');
        if (eq < 0) return cx.env[l] === undefined ? '' : `${l}=${cx.env[l]}`;
        return `${l.slice(0, eq)}=${unquote(l.slice(eq + 1))}`;
      })
      .filter(Boolean);
  });
}

const unquote = (v: string) => (/^(['"]).*\1$/.test(v) ? v.slice(1, -1) : v);

function serviceNetworks(s: ComposeService, networks: AppNetwork[], cx: NormalizeContext, path: Path, replicas: number) {
  const asked = s.networks ?? ['default'];
  const entries: Array<[string, { aliases?: string[]; ipv4_address?: string } | null]> = Array.isArray(asked) ? asked.map((k) => [k, null]) : Object.entries(asked);
  return entries.map(([key, o]) => {
    const net = networks.find((n) => n.key === key);
    if (!net) throw cx.fail([...path, key], `network "${key}" is not declared in the file's top-level networks`);
    if (o?.ipv4_address && replicas !== 1) throw cx.fail([...path, key, 'ipv4_address'], 'a fixed address needs exactly one replica');
    return { name: net.name, aliases: o?.aliases ?? [] };
  });
}

function servicePorts(p: string | number | { target: number; published?: string | number; protocol?: 'tcp' | 'udp'; mode?: 'ingress' | 'host'; host_ip?: string }): ServicePort[] {
  if (typeof p === 'number') return [{ target: p, published: 0, protocol: 'tcp', mode: 'ingress', hostIp: '' }];
  if (typeof p === 'string') {
    return parsePublish(p).map((m) => ({ target: m.containerPort, published: m.hostPort, protocol: m.protocol, mode: 'ingress', hostIp: m.hostIp }));
  }
  const published = p.published === undefined || p.published === '' ? 0 : Number(p.published);
  if (!Number.isInteger(published) || published < 0 || published > 65535) throw new HullError('invalid', `published port "${p.published}" is not a port`);
  if (p.target < 1 || p.target > 65535) throw new HullError('invalid', `target port ${p.target} is not a port`);
  return [{ target: p.target, published, protocol: p.protocol ?? 'tcp', mode: p.mode ?? 'ingress', hostIp: p.host_ip ?? '' }];
}

function mount(v: string | { type: 'volume' | 'bind' | 'tmpfs'; source?: string; target: string; read_only?: boolean }, volumes: AppVolume[], dir: string | undefined): ServiceMount {
  if (typeof v !== 'string') {
    const source = v.type === 'bind' ? bindSource(v.source ?? '', dir) : v.type === 'volume' ? volumeName(v.source ?? '', volumes) : '';
    return { type: v.type, source, target: v.target, readOnly: v.read_only ?? false };
  }
  const parts = v.split(':');
  if (parts.length === 1) return { type: 'volume', source: '', target: parts[0], readOnly: false };
  if (parts.length > 3) throw new HullError('invalid', `invalid volume "${v}": use SOURCE:TARGET[:ro|rw]`);
  const [src, target, mode = 'rw'] = parts;
  if (mode !== 'ro' && mode !== 'rw' && mode !== 'z' && mode !== 'Z') throw new HullError('invalid', `invalid volume mode "${mode}": use ro or rw`);
  const isPath = src.startsWith('/') || src.startsWith('.') || src.startsWith('~');
  return { type: isPath ? 'bind' : 'volume', source: isPath ? bindSource(src, dir) : volumeName(src, volumes), target, readOnly: mode === 'ro' };
}

function bindSource(src: string, dir: string | undefined): string {
  if (!src) throw new HullError('invalid', 'a bind mount needs a source path');
  if (src.startsWith('~')) throw new HullError('invalid', `"${src}": write the home directory out (the daemon does not know the client's home)`);
  if (isAbsolute(src)) return src;
  if (!dir) throw new HullError('invalid', `"${src}": a relative path needs the file's directory, which a file sent without one (pasted in the dashboard) has not: write the path out`);
  return resolve(dir, src);
}

function volumeName(src: string, volumes: AppVolume[]): string {
  if (!src) return '';
  const v = volumes.find((x) => x.key === src);
  if (!v) throw new HullError('invalid', `volume "${src}" is not declared in the file's top-level volumes`);
  return v.name;
}

function tmpfs(t: string | string[] | undefined): ServiceMount[] {
  const list = t === undefined ? [] : typeof t === 'string' ? [t] : t;
  return list.map((target) => ({ type: 'tmpfs', source: '', target: target.split(':')[0], readOnly: false }));
}

function healthOf(s: ComposeService, x: HullServiceExt, cx: NormalizeContext, at: (...p: Path) => Path): { healthcheck?: HealthCheck | null } {
  const h = s.healthcheck;
  const xh = x.healthcheck;
  if (h && xh) throw cx.fail(at('x-hull', 'healthcheck'), 'give either healthcheck (a command) or x-hull.healthcheck (http or tcp), not both');
  if (h?.disable) return { healthcheck: null };
  const times = (o: { interval?: string | number; timeout?: string | number; retries?: number; start_period?: string | number; start_interval?: string | number }, p: Path) => {
    try {
      return {
        intervalMs: parseDuration(o.interval ?? '30s', 'interval'),
        timeoutMs: parseDuration(o.timeout ?? '30s', 'timeout'),
        retries: o.retries ?? 3,
        startPeriodMs: parseDuration(o.start_period ?? '0s', 'start_period'),
        startIntervalMs: parseDuration(o.start_interval ?? '5s', 'start_interval'),
      };
    } catch (e) {
      throw cx.fail(p, (e as Error).message);
    }
  };
  if (xh) {
    if (!!xh.http === !!xh.tcp) throw cx.fail(at('x-hull', 'healthcheck'), 'give exactly one of http or tcp');
    const probe = xh.http ? { http: { port: xh.http.port, path: xh.http.path ?? '/' } } : { tcp: { port: xh.tcp!.port } };
    return { healthcheck: { probe, ...times(xh, at('x-hull', 'healthcheck')) } };
  }
  if (!h) return {};
  if (h.test === undefined) throw cx.fail(at('healthcheck', 'test'), 'a healthcheck needs a test (or disable: true)');
  const t = typeof h.test === 'string' ? ['CMD-SHELL', h.test] : h.test;
  if (t[0] === 'NONE') return { healthcheck: null };
  let exec: string[];
  if (t[0] === 'CMD' && t.length > 1) exec = t.slice(1);
  else if (t[0] === 'CMD-SHELL' && t.length === 2) exec = ['/bin/sh', '-c', t[1]];
  else throw cx.fail(at('healthcheck', 'test'), 'use ["CMD", program, args...], ["CMD-SHELL", "command"], a string, or ["NONE"]');
  return { healthcheck: { probe: { exec }, ...times(h, at('healthcheck')) } };
}

type ComposeUpdate = NonNullable<NonNullable<ComposeService['deploy']>['update_config']>;

function updateConfig(u: ComposeUpdate | undefined, x: HullServiceExt, isVm: boolean, defaultAction: 'rollback' | 'pause'): UpdateConfig {
  const ratio = u?.max_failure_ratio ?? 0;
  if (ratio < 0 || ratio > 1) throw new HullError('invalid', 'max_failure_ratio must be between 0 and 1');
  const parallelism = u?.parallelism ?? 1;
  if (parallelism < 0) throw new HullError('invalid', 'parallelism must be 0 (all at once) or more');
  return {
    parallelism,
    delayMs: parseDuration(u?.delay ?? '0s', 'delay'),
    failureAction: u?.failure_action ?? defaultAction,
    monitorMs: parseDuration(u?.monitor ?? '5s', 'monitor'),
    maxFailureRatio: ratio,
    order: u?.order ?? 'stop-first',
    readyTimeoutMs: parseDuration(x.ready_timeout ?? (isVm ? '180s' : '60s'), 'ready_timeout'),
  };
}

function autoscale(a: NonNullable<HullServiceExt['autoscale']>) {
  if (a.min < 0 || a.max < a.min || a.max > 1000) throw new HullError('invalid', 'needs 0 ≤ min ≤ max ≤ 1000');
  if (a.target_cpu <= 0 || a.target_cpu > 100_000) throw new HullError('invalid', 'target_cpu is a percentage greater than zero');
  return { min: a.min, max: a.max, targetCpuPercent: a.target_cpu, scaleDownWindowMs: parseDuration(a.scale_down_window ?? '5m', 'scale_down_window') };
}
