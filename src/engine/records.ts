import type { z } from 'zod';
import { invalid } from '../core/errors.js';
import { mergeEnv } from '../core/env.js';
import { shortId } from '../core/ids.js';
import type { Image } from '../core/image.js';
import type { HealthCheck } from '../core/health.js';
import { newState, type Instance } from '../core/instance.js';
import { withLogDefaults, type LogConfig } from '../core/log-config.js';
import type { PortMapping } from '../core/network.js';
import { parseExposed } from '../core/port-spec.js';
import type { SecurityConfig } from '../core/security.js';
import { normalizeCapability } from '../runtime/oci/capabilities.js';
import { parseSeccompProfile } from '../runtime/oci/seccomp-profile.js';
import type { VmImage } from '../runtime/qemu/images.js';
import type { ParsedCreateOptions } from './create-options.js';
import { vmConfig, type VmCreateSchema } from './vm-options.js';

/**
 * The records the engine stores for a new instance, from a parsed request and
 * what it names (the image), before anything is allocated: pure, so the
 * engine's create paths differ only in what they check and which driver runs.
 */

/** Parse a request with its schema; the issues, joined, are the error. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalid(`invalid ${what}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** A container: the image's config under the request's overrides, as docker merges them. */
export function containerRecord(o: ParsedCreateOptions, image: Image, id: string, name: string, runtime: string, logDefaults?: LogConfig): Instance {
  const ic = image.config;
  return {
    id,
    name,
    type: 'container',
    createdAt: new Date().toISOString(),
    config: {
      image: o.image,
      imageId: image.id,
      entrypoint: o.entrypoint ?? ic.Entrypoint ?? [],
      cmd: o.cmd && o.cmd.length ? o.cmd : o.entrypoint ? [] : (ic.Cmd ?? []),
      env: mergeEnv(ic.Env ?? [], o.env),
      workingDir: o.workingDir || ic.WorkingDir || '/',
      user: o.user || ic.User || '',
      tty: o.tty,
      openStdin: o.openStdin,
      autoRemove: o.autoRemove,
      runtime,
      userns: o.userns,
      noNewPrivileges: o.noNewPrivileges,
      ...(o.init ? { init: true } : {}),
      resources: { memoryBytes: o.memoryBytes, cpus: o.cpus, pidsLimit: o.pidsLimit ?? 2048, ...(o.storageBytes ? { storageBytes: o.storageBytes } : {}) },
      restartPolicy: { name: o.restartPolicy, maxRetries: o.restartMaxRetries },
      labels: o.labels,
      hostname: o.hostname ?? shortId(id),
      ...(o.isolation === 'vm' ? { isolation: 'vm' as const } : {}),
      ...securityRecord(o),
      logConfig: withLogDefaults(o.logConfig, logDefaults),
      ...healthOf(o.healthcheck, ic.Healthcheck),
    },
    state: newState(),
  };
}

/**
 * What a container asked for beyond the secure defaults (capabilities as
 * docker takes them, devices, a seccomp profile, privileged); nothing when it
 * asked for nothing, so its record says "defaults". Bad names and profiles
 * are refused here, before anything is made.
 */
export function securityRecord(o: ParsedCreateOptions): { security?: SecurityConfig } {
  if (o.privileged && o.userns) throw invalid('--privileged and --userns cannot be used together: a privileged container is root on the host');
  const sec: SecurityConfig = {};
  if (o.capAdd.length) sec.capAdd = [...new Set(o.capAdd.map((c) => normalizeCapability(c, '--cap-add')))];
  if (o.capDrop.length) sec.capDrop = [...new Set(o.capDrop.map((c) => normalizeCapability(c, '--cap-drop')))];
  if (o.devices.length) sec.devices = o.devices.map((d) => ({ hostPath: d.hostPath, containerPath: d.containerPath ?? d.hostPath, permissions: d.permissions }));
  if (o.seccompProfile !== undefined) sec.seccomp = o.seccompProfile === 'unconfined' ? 'unconfined' : parseSeccompProfile(o.seccompProfile);
  if (o.privileged) sec.privileged = true;
  return Object.keys(sec).length ? { security: sec } : {};
}

/** The request's health check, else the image's HEALTHCHECK (docker's CMD / CMD-SHELL; NONE or `none`: no check). */
function healthOf(asked: ParsedCreateOptions['healthcheck'], image: NonNullable<Image['config']['Healthcheck']> | undefined): { healthcheck?: HealthCheck } {
  if (asked === 'none') return {};
  if (asked) return { healthcheck: asked };
  const t = image?.Test;
  if (!t?.length || t[0] === 'NONE') return {};
  const exec = t[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', t.slice(1).join(' ')] : t[0] === 'CMD' ? t.slice(1) : undefined;
  if (!exec?.length) return {};
  const ms = (ns: number | undefined, dflt: number) => (ns && ns > 0 ? Math.round(ns / 1e6) : dflt);
  return {
    healthcheck: {
      probe: { exec },
      intervalMs: ms(image!.Interval, 30_000),
      timeoutMs: ms(image!.Timeout, 30_000),
      retries: image!.Retries && image!.Retries > 0 ? image!.Retries : 3,
      startPeriodMs: ms(image!.StartPeriod, 0),
      startIntervalMs: ms(image!.StartInterval, 5000),
    },
  };
}

/** A VM: its console is one raw stream (tty), its first-boot configuration in `config.vm`. */
export function vmRecord(o: z.output<typeof VmCreateSchema>, image: VmImage, id: string, name: string, logDefaults?: LogConfig): Instance {
  return {
    id,
    name,
    type: 'vm',
    createdAt: new Date().toISOString(),
    config: {
      image: o.image,
      imageId: image.id,
      entrypoint: [],
      cmd: [],
      env: [],
      workingDir: '/',
      user: '',
      tty: true,
      openStdin: true,
      autoRemove: false,
      runtime: 'qemu',
      userns: false,
      noNewPrivileges: false,
      resources: { memoryBytes: o.memoryBytes, cpus: o.cpus },
      restartPolicy: { name: 'no' },
      labels: o.labels,
      hostname: o.hostname ?? name,
      vm: vmConfig(o),
      logConfig: withLogDefaults(undefined, logDefaults),
    },
    state: newState(),
  };
}

/** -P: every port the image exposes that -p did not map already, on a host port picked for it. */
export function withExposed(ports: PortMapping[], exposed: Record<string, object> | undefined): PortMapping[] {
  const extra = Object.keys(exposed ?? {})
    .map(parseExposed)
    .filter((e): e is NonNullable<typeof e> => !!e && !ports.some((p) => p.containerPort === e.containerPort && p.protocol === e.protocol))
    .map((e) => ({ hostIp: '', hostPort: 0, ...e }));
  return [...ports, ...extra];
}
