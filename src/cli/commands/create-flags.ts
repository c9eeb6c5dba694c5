import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { parseLogOpts } from '../../core/log-config.js';
import { parsePublish } from '../../core/port-spec.js';
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag, parseVolumesFrom } from '../../core/mount-spec.js';
import { parseCpus, parseSize } from '../../core/units.js';
import type { CreateOptions } from '../../api/contract/instances.js';
import { collect } from '../context.js';

/**
 * The flags `run` and `create` share, as typed data: one list drives the
 * parser, --help and docs/cli.md. Each maps its value onto CreateOptions.
 */
export interface Flag {
  flags: string;
  help: string;
  repeatable?: boolean;
  apply?: (o: CreateOptions, v: never) => void;
}

export const CREATE_FLAGS: Flag[] = [
  { flags: '--name <name>', help: 'assign a name to the container', apply: (o, v: string) => (o.name = v) },
  { flags: '-e, --env <KEY=VALUE>', help: 'set an environment variable (repeatable)', repeatable: true, apply: (o, v: string[]) => (o.env = v.flatMap(envFromHost)) },
  { flags: '-w, --workdir <dir>', help: 'working directory inside the container', apply: (o, v: string) => (o.workingDir = v) },
  { flags: '-u, --user <user[:group]>', help: 'user name or uid (and group) to run as', apply: (o, v: string) => (o.user = v) },
  { flags: '-t, --tty', help: 'allocate a pseudo-terminal', apply: (o, v: boolean) => (o.tty = v) },
  { flags: '-i, --interactive', help: 'keep stdin open', apply: (o, v: boolean) => (o.openStdin = v) },
  { flags: '--entrypoint <cmd>', help: "override the image's entrypoint", apply: (o, v: string) => (o.entrypoint = v === '' ? [] : [v]) },
  { flags: '--rm', help: 'remove the container when it exits', apply: (o, v: boolean) => (o.autoRemove = v) },
  { flags: '-m, --memory <size>', help: 'memory limit (e.g. 64m, 1g; at least 6m)', apply: (o, v: string) => (o.memoryBytes = parseSize(v)) },
  { flags: '--cpus <n>', help: "CPU limit in cores (e.g. 0.5; at most the host's CPUs)", apply: (o, v: string) => (o.cpus = parseCpus(v)) },
  { flags: '--pids-limit <n>', help: 'process limit (default 2048; -1 for none)', apply: (o, v: string) => (o.pidsLimit = parseIntStrict(v, '--pids-limit')) },
  { flags: '--restart <policy>', help: 'no | always | on-failure[:max] | unless-stopped', apply: applyRestart },
  { flags: '--runtime <name>', help: 'OCI runtime: crun (default) or runc', apply: (o, v: string) => (o.runtime = v) },
  { flags: '--isolation <mode>', help: 'container (default), or vm: run the program in a small VM of its own, with its own kernel (-t, -i, -p and networks work; --userns, --runtime and --network host do not)', apply: applyIsolation },
  { flags: '--userns', help: 'run in a user namespace (container root is not host root)', apply: (o, v: boolean) => (o.userns = v) },
  { flags: '--init', help: 'run a tiny init (tini) as PID 1 that forwards signals to the program and reaps orphaned processes', apply: (o, v: boolean) => (o.init = v) },
  { flags: '--security-opt <opt>', help: 'security option: no-new-privileges, seccomp=PROFILE.json or seccomp=unconfined (repeatable)', repeatable: true, apply: applySecurityOpt },
  { flags: '--cap-add <cap>', help: 'add a capability (e.g. NET_RAW, or ALL) (repeatable)', repeatable: true, apply: (o, v: string[]) => (o.capAdd = v) },
  { flags: '--cap-drop <cap>', help: 'drop a capability (e.g. CHOWN, or ALL) (repeatable)', repeatable: true, apply: (o, v: string[]) => (o.capDrop = v) },
  { flags: '--device <dev>', help: 'give a host device: /dev/x[:/dev/y][:rwm] (repeatable)', repeatable: true, apply: (o, v: string[]) => (o.devices = v.map(parseDevice)) },
  { flags: '--privileged', help: 'every capability and host device, no seccomp, no masked paths (root on the host)', apply: (o, v: boolean) => (o.privileged = v) },
  { flags: '--storage-opt <opt>', help: 'storage option: size=SIZE, the most the writable layer may hold (repeatable)', repeatable: true, apply: applyStorageOpt },
  { flags: '--hostname <name>', help: 'container host name', apply: (o, v: string) => (o.hostname = v) },
  { flags: '-l, --label <k=v>', help: 'set a label (repeatable)', repeatable: true, apply: (o, v: string[]) => (o.labels = Object.fromEntries(v.map((l) => splitKv(l)))) },
  { flags: '--network <name>', help: 'join a network (repeatable; default hull0); none: loopback only; host: the host network', repeatable: true, apply: (o, v: string[]) => (o.networks = v) },
  { flags: '--network-alias <alias>', help: 'another name the container answers to on its networks (repeatable)', repeatable: true, apply: (o, v: string[]) => (o.networkAliases = v) },
  { flags: '--ip <address>', help: 'IPv4 address on the first network', apply: (o, v: string) => (o.ip = v) },
  { flags: '-p, --publish <spec>', help: 'publish a port: [hostIP:][hostPort:]containerPort[/tcp|udp], ranges as 8000-8001:80-81 (repeatable)', repeatable: true, apply: (o, v: string[]) => (o.ports = v.flatMap(parsePublish)) },
  { flags: '-P, --publish-all', help: 'publish every port the image exposes on a free host port', apply: (o, v: boolean) => (o.publishAll = v) },
  // Logs: how the container's log is kept.
  { flags: '--log-opt <k=v>', help: "log option (repeatable): max-size=SIZE (a file's size before rotation), max-file=N (files kept); default: the daemon's, 20m and 5", repeatable: true, apply: (o, v: string[]) => (o.logConfig = parseLogOpts(v)) },
  // ---- storage ----
  { flags: '-v, --volume <spec>', help: 'NAME:/path[:ro] a named volume (made on first use), /host:/path[:ro] a bind mount, /path an anonymous volume (repeatable)', repeatable: true, apply: (o, v: string[]) => (o.mounts = [...(o.mounts ?? []), ...v.map((s) => parseVolumeFlag(s, process.cwd()))]) },
  { flags: '--mount <spec>', help: "type=volume|bind|tmpfs,source=…,target=…[,readonly] with docker's keys (repeatable)", repeatable: true, apply: (o, v: string[]) => (o.mounts = [...(o.mounts ?? []), ...v.map(parseMountFlag)]) },
  { flags: '--tmpfs <spec>', help: 'a tmpfs: /path[:size=64m,mode=1777] (repeatable)', repeatable: true, apply: (o, v: string[]) => (o.mounts = [...(o.mounts ?? []), ...v.map(parseTmpfsFlag)]) },
  { flags: '--volumes-from <container>', help: "another container's volumes and binds: CONTAINER[:ro|:rw] (repeatable)", repeatable: true, apply: (o, v: string[]) => (o.volumesFrom = v.map((s) => (parseVolumesFrom(s), s))) },
];

export function addCreateFlags(cmd: Command): Command {
  for (const f of CREATE_FLAGS) {
    if (f.repeatable) cmd.option(f.flags, f.help, collect, []);
    else cmd.option(f.flags, f.help);
  }
  return cmd;
}

/** Commander's camelCased option key for a flag spec like `--pids-limit <n>`. */
function key(flags: string): string {
  const long = /--([\w-]+)/.exec(flags)![1];
  return long.replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());
}

export function toCreateOptions(image: string, command: string[], opts: Record<string, unknown>): CreateOptions {
  const o: CreateOptions = { image };
  if (command.length) o.cmd = command;
  for (const f of CREATE_FLAGS) {
    const v = opts[key(f.flags)];
    if (v === undefined || (Array.isArray(v) && v.length === 0) || v === false) continue;
    f.apply?.(o, v as never);
  }
  return o;
}

function parseIntStrict(v: string, flag: string): number {
  if (!/^-?\d+$/.test(v)) throw new Error(`invalid ${flag} "${v}": expected an integer`);
  return Number(v);
}

function applyRestart(o: CreateOptions, v: string) {
  const [name, max] = v.split(':');
  if (!['no', 'always', 'on-failure', 'unless-stopped'].includes(name)) throw new Error(`invalid --restart "${v}": use no, always, on-failure[:max] or unless-stopped`);
  o.restartPolicy = name as CreateOptions['restartPolicy'];
  if (max !== undefined) o.restartMaxRetries = parseIntStrict(max, '--restart');
}

function applyIsolation(o: CreateOptions, v: string) {
  if (v !== 'container' && v !== 'vm') throw new Error(`invalid --isolation "${v}": use container or vm`);
  o.isolation = v;
}

function applySecurityOpt(o: CreateOptions, v: string[]) {
  for (const s of v) {
    if (s === 'no-new-privileges' || s === 'no-new-privileges:true' || s === 'no-new-privileges=true') o.noNewPrivileges = true;
    else if (/^seccomp[=:]/.test(s)) o.seccompProfile = seccompProfile(s.slice('seccomp='.length));
    else throw new Error(`unsupported --security-opt "${s}": use no-new-privileges, seccomp=PROFILE.json or seccomp=unconfined`);
  }
}

/** The profile goes to the daemon as text: the daemon may not see the client's files. */
function seccompProfile(v: string): string {
  if (v === 'unconfined') return v;
  if (v === '') throw new Error('--security-opt seccomp= needs a profile file or unconfined');
  try {
    return readFileSync(v, 'utf8');
  } catch (e) {
    throw new Error(`--security-opt seccomp=${v}: ${(e as Error).message}`);
  }
}

/** docker's `--device`: SRC, SRC:DST, SRC:PERMS or SRC:DST:PERMS. */
export function parseDevice(v: string): NonNullable<CreateOptions['devices']>[number] {
  const parts = v.split(':');
  const perms = (p: string) => /^[rwm]{1,3}$/.test(p);
  const [hostPath, second, third] = parts;
  if (parts.length > 3 || !hostPath?.startsWith('/')) throw new Error(`invalid --device "${v}": use /dev/x[:/dev/y][:rwm]`);
  if (parts.length === 1) return { hostPath };
  if (parts.length === 2 && perms(second)) return { hostPath, permissions: second };
  if (!second.startsWith('/') || (third !== undefined && !perms(third))) throw new Error(`invalid --device "${v}": use /dev/x[:/dev/y][:rwm]`);
  return { hostPath, containerPath: second, ...(third !== undefined ? { permissions: third } : {}) };
}

function applyStorageOpt(o: CreateOptions, v: string[]) {
  for (const s of v) {
    const m = /^size=(.+)$/.exec(s);
    if (!m) throw new Error(`unsupported --storage-opt "${s}": use size=SIZE (e.g. size=10g)`);
    o.storageBytes = parseSize(m[1]);
  }
}

function splitKv(s: string): [string, string] {
  const i = s.indexOf('=');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

/** `-e NAME` without a value takes NAME from the caller's environment, as docker does; unset there, it is left out. */
function envFromHost(e: string): string[] {
  if (e.includes('=')) return [e];
  const v = process.env[e];
  return v === undefined ? [] : [`${e}=${v}`];
}
