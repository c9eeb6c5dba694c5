import { parseLogOpts } from '../../../core/log-config.js';
import { parseSize } from '../../../core/units.js';
import type { CreateOptions } from '../../../engine/create-options.js';
import { DockerError } from '../errors.js';
import type { CreateBody, HostConfigBody } from './create-body.js';

/** HostConfig's limits, restart policy, security and log options as Hull's create options; what Hull refuses or ignores. */

/**
 * Capabilities, devices, --privileged, seccomp and no-new-privileges as
 * Hull's create options take them (names are checked by the engine), and
 * the writable layer's size (--storage-opt size=).
 */
export function security(h: HostConfigBody): Partial<CreateOptions> {
  const o: Partial<CreateOptions> = { noNewPrivileges: false, privileged: h.Privileged ?? false, capAdd: h.CapAdd ?? [], capDrop: h.CapDrop ?? [] };
  o.devices = (h.Devices ?? []).map((d) => ({ hostPath: d.PathOnHost, ...(d.PathInContainer ? { containerPath: d.PathInContainer } : {}), permissions: d.CgroupPermissions || 'rwm' }));
  for (const opt of h.SecurityOpt ?? []) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(opt);
    const [key, value] = [m?.[1] ?? opt, m?.[2] ?? ''];
    if (key === 'no-new-privileges') o.noNewPrivileges = value === '' || value === 'true';
    else if (key === 'seccomp') o.seccompProfile = value;
    else if (key !== 'label' && key !== 'apparmor') throw new DockerError(400, `invalid --security-opt: ${opt.slice(0, 64)}`);
  }
  const size = h.StorageOpt?.size;
  if (size !== undefined) o.storageBytes = parseSize(size);
  const other = Object.keys(h.StorageOpt ?? {}).filter((k) => k !== 'size');
  if (other.length) throw new DockerError(501, `--storage-opt ${other[0]} is not supported by Hull (size only)`);
  return o;
}

/** The log drivers that are files, as Hull's: their max-size and max-file are Hull's --log-opt. */
const FILE_LOGS = ['', 'json-file', 'local', 'k8s-file'];

export function logConfig(h: HostConfigBody): Partial<CreateOptions> {
  const cfg = h.LogConfig;
  if (!cfg || !FILE_LOGS.includes(cfg.Type ?? '') || !Object.keys(cfg.Config ?? {}).length) return {};
  try {
    return { logConfig: parseLogOpts(Object.entries(cfg.Config ?? {}).map(([k, v]) => `${k}=${v}`)) };
  } catch (e) {
    throw new DockerError(400, (e as Error).message);
  }
}


export function resources(h: HostConfigBody): Partial<CreateOptions> {
  const out: Partial<CreateOptions> = {};
  if (h.Memory) out.memoryBytes = h.Memory;
  if (h.NanoCpus) out.cpus = h.NanoCpus / 1e9;
  else if (h.CpuQuota && h.CpuQuota > 0) out.cpus = h.CpuQuota / (h.CpuPeriod || 100_000);
  // 0 is what every client sends when unset (Hull's default then); -1 is unlimited.
  if (h.PidsLimit) out.pidsLimit = h.PidsLimit < 0 ? -1 : h.PidsLimit;
  return out;
}

const RESTART = ['no', 'always', 'on-failure', 'unless-stopped'] as const;

export function restartPolicy(h: HostConfigBody): Partial<CreateOptions> {
  const name = h.RestartPolicy?.Name || 'no';
  if (!(RESTART as readonly string[]).includes(name)) throw new DockerError(400, `invalid restart policy '${name}'`);
  const retries = h.RestartPolicy?.MaximumRetryCount ?? 0;
  if (retries && name !== 'on-failure') throw new DockerError(400, `invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  if (retries < 0) throw new DockerError(400, 'invalid restart policy: maximum retry count must be a positive integer');
  if (name !== 'no' && h.AutoRemove) throw new DockerError(400, "conflicting options: cannot specify both --restart and --rm");
  return { restartPolicy: name as (typeof RESTART)[number], ...(retries ? { restartMaxRetries: retries } : {}) };
}


/** What Hull cannot give and must not pretend to: 501 names it. */
export function refuseUnsupported(h: HostConfigBody): void {
  const no = (what: string) => {
    throw new DockerError(501, `${what} is not supported by Hull`);
  };
  if (h.DeviceRequests?.length) no('--gpus (device requests)');
  if (h.ReadonlyRootfs) no('--read-only');
  if (h.PidMode) no(`--pid ${h.PidMode}`);
  if (h.IpcMode && !['', 'private', 'shareable', 'none'].includes(h.IpcMode)) no(`--ipc ${h.IpcMode}`);
  if (h.UTSMode) no(`--uts ${h.UTSMode}`);
  if (h.UsernsMode && h.UsernsMode !== 'host') no(`--userns ${h.UsernsMode}`);
}

/** Settings that only tune: Hull runs the container without them and says so. */
export function warnIgnored(b: CreateBody, h: HostConfigBody, w: string[]): void {
  const ign = (what: string) => w.push(`Hull ignores ${what}`);
  if (b.Domainname) ign('--domainname');
  if (b.MacAddress) ign('--mac-address');
  if (b.StopSignal) ign('--stop-signal (the image\'s STOPSIGNAL, else SIGTERM, is sent)');
  if (b.StopTimeout !== undefined) ign('--stop-timeout (stop waits 10 seconds unless told otherwise)');
  if (h.Dns?.length || h.DnsOptions?.length || h.DnsSearch?.length) ign('--dns, --dns-option and --dns-search (the network\'s name server answers)');
  if (h.ExtraHosts?.length) ign('--add-host');
  if (h.Links?.length) ign('--link (containers on one network find each other by name)');
  if (h.Sysctls && Object.keys(h.Sysctls).length) ign('--sysctl');
  if ((h.SecurityOpt ?? []).some((s) => /^(label|apparmor)\b/.test(s))) ign('--security-opt label and apparmor (no SELinux or AppArmor profiles)');
  const log = h.LogConfig?.Type;
  if (log && !FILE_LOGS.includes(log)) ign(`--log-driver ${log} and its --log-opt (Hull keeps every log in rotated files of its own)`);
}

