import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHullError } from '../../core/errors.js';
import { DEFAULT_CAPABILITIES, DEFAULT_PATH } from './defaults.js';
import { allowsTun, buildSpec, hostNofileLimit, type SpecOptions } from './spec.js';
import type { OciSpec } from './spec-types.js';

const base = (over: Partial<SpecOptions> = {}): SpecOptions => ({
  rootfs: '/var/lib/hull/c1/merged',
  args: ['/bin/sh', '-c', 'true'],
  env: [],
  cwd: '/',
  user: { uid: 0, gid: 0 },
  terminal: false,
  hostname: 'c1',
  cgroupsPath: '/hull/c1',
  noNewPrivileges: false,
  nofile: 20000,
  ...over,
});

describe('buildSpec', () => {
  it('builds an OCI 1.0.2 config with the process as asked', () => {
    const s = buildSpec(base({ args: ['echo', 'hi'], env: ['A=1'], cwd: '/app', user: { uid: 5, gid: 6, additionalGids: [7] } }));
    expect(s.ociVersion).toBe('1.0.2');
    expect(s.root).toEqual({ path: '/var/lib/hull/c1/merged', readonly: false });
    expect(s.hostname).toBe('c1');
    expect(s.process).toMatchObject({ terminal: false, args: ['echo', 'hi'], cwd: '/app', user: { uid: 5, gid: 6, additionalGids: [7] } });
    expect(s.process.env).toEqual([`PATH=${DEFAULT_PATH}`, 'A=1', 'HOSTNAME=c1']);
    expect(s.process.apparmorProfile).toBeUndefined();
    expect(s.process.oomScoreAdj).toBeUndefined();
    expect(s.linux.cgroupsPath).toBe('/hull/c1');
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('keeps the given PATH, adds TERM only with a terminal, defaults cwd to /', () => {
    const s = buildSpec(base({ env: ['PATH=/x', 'TERM=vt100'], terminal: true, cwd: undefined }));
    expect(s.process.env).toEqual(['PATH=/x', 'TERM=vt100', 'HOSTNAME=c1']);
    expect(buildSpec(base({ terminal: true })).process.env).toContain('TERM=xterm');
    expect(buildSpec(base()).process.env.some((e) => e.startsWith('TERM='))).toBe(false);
    expect(s.process.cwd).toBe('/');
    expect(buildSpec(base({ user: { uid: 1, gid: 1, additionalGids: [] } })).process.user).toEqual({ uid: 1, gid: 1 });
  });

  it("gives podman's 11 capabilities (docker's 14 less NET_RAW, MKNOD, AUDIT_WRITE), none inheritable or ambient", () => {
    const c = buildSpec(base()).process.capabilities;
    expect(DEFAULT_CAPABILITIES).toHaveLength(11);
    for (const gone of ['CAP_NET_RAW', 'CAP_MKNOD', 'CAP_AUDIT_WRITE']) expect(c.bounding).not.toContain(gone);
    for (const set of [c.bounding, c.effective, c.permitted]) expect([...set].sort()).toEqual([...DEFAULT_CAPABILITIES].sort());
    expect(c.inheritable).toEqual([]);
    expect(c.ambient).toEqual([]);
  });

  it('sets RLIMIT_NOFILE soft = hard = nofile and nothing else', () => {
    expect(buildSpec(base({ nofile: 1234 })).process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', soft: 1234, hard: 1234 }]);
  });

  it('passes noNewPrivileges through', () => {
    expect(buildSpec(base({ noNewPrivileges: true })).process.noNewPrivileges).toBe(true);
    expect(buildSpec(base()).process.noNewPrivileges).toBe(false);
  });

  it('creates pid, ipc, uts, mount, network and cgroup namespaces; user only when asked', () => {
    const types = (s: OciSpec) => s.linux.namespaces.map((n) => n.type).sort();
    const s = buildSpec(base());
    expect(types(s)).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
    expect(s.linux.uidMappings).toBeUndefined();
    expect(types(buildSpec(base({ cgroupns: false })))).not.toContain('cgroup');
    const net = buildSpec(base({ netnsPath: '/run/netns/n1' })).linux.namespaces.find((n) => n.type === 'network');
    expect(net).toEqual({ type: 'network', path: '/run/netns/n1' });
    const u = buildSpec(base({ userns: { hostId: 100000, size: 65536 } }));
    expect(types(u)).toContain('user');
    expect(u.linux.uidMappings).toEqual([{ containerID: 0, hostID: 100000, size: 65536 }]);
    expect(u.linux.gidMappings).toEqual([{ containerID: 0, hostID: 100000, size: 65536 }]);
  });

  it('mounts proc, dev, devpts, shm, mqueue, sysfs and cgroup with safe options, then the extra mounts', () => {
    const extra = { destination: '/data', source: '/srv/data', type: 'bind', options: ['rbind', 'ro'] };
    const m = buildSpec(base({ mounts: [extra] })).mounts;
    expect(m.map((x) => x.destination)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/data']);
    const by = (d: string) => m.find((x) => x.destination === d)!;
    expect(by('/proc')).toMatchObject({ type: 'proc', options: ['nosuid', 'noexec', 'nodev'] });
    expect(by('/dev')).toMatchObject({ type: 'tmpfs', options: expect.arrayContaining(['mode=755', 'size=65536k', 'nosuid']) });
    expect(by('/dev/pts').options).toEqual(expect.arrayContaining(['newinstance', 'ptmxmode=0666', 'gid=5']));
    expect(by('/dev/shm')).toMatchObject({ type: 'tmpfs', options: expect.arrayContaining(['size=65536k', 'nodev', 'noexec']) });
    expect(by('/dev/mqueue').type).toBe('mqueue');
    expect(by('/sys')).toMatchObject({ type: 'sysfs', options: expect.arrayContaining(['ro', 'nosuid', 'noexec', 'nodev']) });
    expect(by('/sys/fs/cgroup')).toMatchObject({ type: 'cgroup', options: expect.arrayContaining(['ro']) });
    expect(by('/data')).toEqual(extra);
  });

  it('--init: binds the init read-only at /run/hull-init, last, and starts the program under it', () => {
    const tmpfs = { destination: '/run', source: 'tmpfs', type: 'tmpfs', options: ['nosuid'] };
    const s = buildSpec(base({ args: ['sleep', '30'], init: '/usr/bin/tini-static', mounts: [tmpfs] }));
    expect(s.process.args).toEqual(['/run/hull-init', '--', 'sleep', '30']);
    expect(s.mounts.at(-1)).toEqual({ destination: '/run/hull-init', source: '/usr/bin/tini-static', type: 'bind', options: ['bind', 'ro', 'nosuid', 'nodev'] });
    expect(buildSpec(base({ args: ['sleep', '30'] })).process.args).toEqual(['sleep', '30']);
    expect(() => buildSpec(base({ init: 'tini' }))).toThrow(/must be an absolute path/);
  });

  it('binds /sys instead of a fresh sysfs in a user namespace, and drops gid=5 if unmapped', () => {
    const m = buildSpec(base({ userns: { hostId: 100000, size: 65536 } })).mounts;
    expect(m.find((x) => x.destination === '/sys')).toEqual({
      destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
    });
    const tiny = buildSpec(base({ userns: { hostId: 100000, size: 1 } })).mounts;
    expect(tiny.find((x) => x.destination === '/dev/pts')!.options).not.toContain('gid=5');
  });

  it('masks and write-protects the kernel files docker does', () => {
    const l = buildSpec(base()).linux;
    expect(l.maskedPaths).toEqual(expect.arrayContaining(['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/sys/firmware', '/proc/acpi', '/sys/devices/virtual/powercap']));
    expect(l.readonlyPaths).toEqual(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  });

  it('allows only the pseudo devices, after denying all', () => {
    const d = buildSpec(base()).linux.resources.devices;
    expect(d[0]).toEqual({ allow: false, access: 'rwm' });
    const rwm = d.filter((x) => x.allow && x.access === 'rwm').map((x) => `${x.type} ${x.major ?? '*'}:${x.minor ?? '*'}`);
    const want = ['c 1:3', 'c 1:5', 'c 1:7', 'c 1:8', 'c 1:9', 'c 5:0', 'c 5:1', 'c 5:2', 'c 136:*'];
    expect(rwm).toHaveLength(want.length);
    expect(rwm).toEqual(expect.arrayContaining(want));
  });

  it('sets memory (no extra swap), cpu and pids limits', () => {
    const r = buildSpec(base({ memoryBytes: 32 << 20, cpus: 0.5, pidsLimit: 20 })).linux.resources;
    expect(r.memory).toEqual({ limit: 32 << 20, swap: 32 << 20 });
    expect(r.cpu).toEqual({ quota: 50000, period: 100000 });
    expect(r.pids).toEqual({ limit: 20 });
    const d = buildSpec(base()).linux.resources;
    expect(d.memory).toBeUndefined();
    expect(d.cpu).toBeUndefined();
    expect(d.pids).toEqual({ limit: 2048 });
    expect(buildSpec(base({ pidsLimit: -1 })).linux.resources.pids).toBeUndefined();
    expect(buildSpec(base({ cpus: 2 })).linux.resources.cpu).toEqual({ quota: 200000, period: 100000 });
  });

  it('carries the default seccomp profile', () => {
    const sc = buildSpec(base()).linux.seccomp!;
    expect(sc.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(sc.syscalls[0].names).toContain('read');
    expect(sc.syscalls[0].names).not.toContain('mount');
  });

  it('refuses what no runtime could run', () => {
    const bad: Array<[Partial<SpecOptions>, RegExp]> = [
      [{ rootfs: 'rel/path' }, /absolute/],
      [{ args: [] }, /no command/],
      [{ cwd: 'app' }, /absolute/],
      [{ pidsLimit: 0 }, /pids limit/],
      [{ cpus: 0 }, /cpus/],
      [{ nofile: 0 }, /nofile/],
      [{ user: { uid: -1, gid: 0 } }, /invalid user/],
      [{ userns: { hostId: 100000, size: 1000 }, user: { uid: 1000, gid: 0 } }, /outside the user namespace/],
    ];
    for (const [over, msg] of bad) expect(() => buildSpec(base(over)), msg.source).toThrow(msg);
    try {
      buildSpec(base({ memoryBytes: 1 << 20 }));
      expect.unreachable();
    } catch (e) {
      expect(isHullError(e, 'resource')).toBe(true);
      expect((e as Error).message).toBe('memory limit 1.00MiB is too small: the minimum is 6.00MiB');
    }
  });
});

describe('buildSpec: capabilities, devices, seccomp, privileged', () => {
  const tun = { path: '/dev/net/tun', type: 'c' as const, major: 10, minor: 200, fileMode: 0o666, uid: 0, gid: 0, access: 'rwm' };

  it('gives the capability set asked for, and a seccomp profile made for it', () => {
    const s = buildSpec(base({ capabilities: ['CAP_SYS_ADMIN', 'CAP_KILL'] }));
    expect(s.process.capabilities.bounding).toEqual(['CAP_SYS_ADMIN', 'CAP_KILL']);
    expect(s.linux.seccomp!.syscalls[0].names).toContain('mount');
  });

  it('makes asked-for devices and allows them after the deny-all', () => {
    const l = buildSpec(base({ devices: [tun] })).linux;
    expect(l.devices).toEqual([{ path: '/dev/net/tun', type: 'c', major: 10, minor: 200, fileMode: 0o666, uid: 0, gid: 0 }]);
    expect(l.resources.devices[0]).toEqual({ allow: false, access: 'rwm' });
    expect(l.resources.devices.at(-1)).toEqual({ allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' });
    expect(allowsTun(buildSpec(base({ devices: [tun] })))).toBe(true);
    expect(allowsTun(buildSpec(base()))).toBe(false);
    expect(() => buildSpec(base({ devices: [{ ...tun, access: 'rwx' }] }))).toThrow(/invalid device/);
  });

  it('lets mknod make a character device only where the device cgroup lets it be opened', () => {
    const rules = (s: OciSpec) => s.linux.seccomp!.syscalls.filter((r) => r.names[0] === 'mknodat');
    const devArgs = (s: OciSpec) => rules(s).flatMap((r) => r.args?.filter((a) => a.index === 3) ?? []).map((a) => `${a.value.toString(16)}=${a.valueTwo?.toString(16)}`);
    const dflt = buildSpec(base());
    expect(dflt.linux.seccomp!.syscalls[0].names).not.toContain('mknod');
    expect(devArgs(dflt)).toEqual(expect.arrayContaining(['ffffffff=103', 'ffffffff=109', 'fff00=8800'])); // null, urandom, pts/*
    expect(devArgs(dflt)).not.toContain('ffffffff=ac8'); // tun
    expect(devArgs(buildSpec(base({ devices: [tun] })))).toContain('ffffffff=ac8');
    // Regular files, fifos, sockets and block nodes (never openable) stay allowed.
    expect(rules(dflt).filter((r) => r.args?.length === 1).map((r) => r.args![0].valueTwo)).toEqual([0, 0o100000, 0o010000, 0o140000, 0o060000]);
  });

  it('takes a seccomp section as given, or none with unconfined', () => {
    const custom = { defaultAction: 'SCMP_ACT_ALLOW' as const, architectures: [], syscalls: [] };
    expect(buildSpec(base({ seccomp: custom })).linux.seccomp).toEqual(custom);
    expect(buildSpec(base({ seccomp: 'unconfined' })).linux.seccomp).toBeUndefined();
  });

  it('privileged: every device, no seccomp, no masked or read-only paths, /sys and cgroups writable', () => {
    const s = buildSpec(base({ privileged: true, capabilities: ['CAP_SYS_ADMIN'] }));
    expect(s.linux.resources.devices).toEqual([{ allow: true, access: 'rwm' }]);
    expect(s.linux.seccomp).toBeUndefined();
    expect(s.linux.maskedPaths).toEqual([]);
    expect(s.linux.readonlyPaths).toEqual([]);
    expect(s.mounts.find((m) => m.destination === '/sys')!.options).toContain('rw');
    expect(s.mounts.find((m) => m.destination === '/sys/fs/cgroup')!.options).toContain('rw');
    expect(allowsTun(s)).toBe(true);
    expect(() => buildSpec(base({ privileged: true, userns: { hostId: 100000, size: 65536 } }))).toThrow(/--privileged and --userns/);
  });

  it('maps gids from their own range when given one', () => {
    const l = buildSpec(base({ userns: { hostId: 200000, hostGid: 300000, size: 65536 } })).linux;
    expect(l.uidMappings).toEqual([{ containerID: 0, hostID: 200000, size: 65536 }]);
    expect(l.gidMappings).toEqual([{ containerID: 0, hostID: 300000, size: 65536 }]);
  });
});

describe('hostNofileLimit', () => {
  it('reads the hard limit, capped at 1048576', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hull-limits-'));
    const f = join(dir, 'limits');
    const line = (soft: string, hard: string) => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}  ${hard}  files\n`;
    await writeFile(f, line('1024', '20000'));
    expect(hostNofileLimit(f)).toBe(20000);
    await writeFile(f, line('1024', 'unlimited'));
    expect(hostNofileLimit(f)).toBe(1048576);
    await writeFile(f, line('1024', '4194304'));
    expect(hostNofileLimit(f)).toBe(1048576);
    expect(hostNofileLimit(join(dir, 'missing'))).toBe(1024);
    await rm(dir, { recursive: true });
    const real = /^Max open files\s+\S+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))!;
    expect(hostNofileLimit()).toBe(Math.min(Number(real[1]), 1048576));
  });
});

// ---------------------------------------------------------------------------
// The same configs run by the real runtimes. Each case starts one container
// with `<runtime> run` (no conmon) on a busybox rootfs and checks what the
// program inside sees.

const has = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const isRoot = process.getuid?.() === 0;

function cgroupMode(): 'v2' | 'hybrid' | 'v1' {
  const mi = readFileSync('/proc/self/mountinfo', 'utf8');
  if (/ \/sys\/fs\/cgroup [^-]*- cgroup2 /.test(mi)) return 'v2';
  return / \/sys\/fs\/cgroup\/unified [^-]*- cgroup2 /.test(mi) ? 'hybrid' : 'v1';
}
const MODE = cgroupMode();
const CAP_SYS_RESOURCE = 24;
const hasCapSysResource = () => {
  const eff = /^CapEff:\s+([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1];
  return ((BigInt(`0x${eff}`) >> BigInt(CAP_SYS_RESOURCE)) & 1n) === 1n;
};

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const CGROUP_PARENT = `/hull-test-${process.pid}`;
let seq = 0;
let work: string;
let rootfs: string;

/** The runtime's argv for `run`; crun on a hybrid-cgroup host runs where it cannot see the cgroup2 mount. */
function runArgv(rt: string, state: string, bundle: string, id: string): string[] {
  const run = [rt, '--root', state, 'run', '--bundle', bundle, id];
  if (rt === 'crun' && MODE === 'hybrid')
    return ['unshare', '-m', '/bin/sh', '-c', 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$0" "$@"', ...run];
  return run;
}

/**
 * Run a container from `spec` and collect its output. With `whileRunning`,
 * the program prints `ready` when set up; the callback then inspects it from
 * the host, and the container is killed.
 */
async function runContainer(rt: string, spec: OciSpec, whileRunning?: (id: string) => Promise<void>): Promise<Result> {
  const id = `hull-test-${process.pid}-${++seq}`;
  const bundle = join(work, id);
  const state = join(work, 'state');
  await mkdir(bundle, { recursive: true });
  spec.linux.cgroupsPath = `${CGROUP_PARENT}/${id}`;
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
  const argv = runArgv(rt, state, bundle, id);
  // stdin is an ended pipe, never the host's /dev/null: crun before 1.24 fchowns the
  // container's stdio to its user, and a user-namespace spec would give the host's
  // /dev/null to uid 100000 (stdin-guard.ts keeps the daemon's crun from it).
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  let inspected: Promise<void> | undefined;
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => {
    stdout += d;
    if (whileRunning && !inspected && stdout.includes('ready\n')) {
      inspected = whileRunning(id).finally(() => execFileSync(rt, ['--root', state, 'kill', id, 'KILL']));
    }
  });
  try {
    const code = await new Promise<number>((res, rej) => {
      child.on('error', rej);
      child.on('close', (c, sig) => res(c ?? 128 + (sig === 'SIGKILL' ? 9 : 15)));
    });
    await inspected;
    return { code, stdout, stderr };
  } finally {
    clearTimeout(killer);
    try {
      execFileSync(rt, ['--root', state, 'delete', '-f', id], { stdio: 'ignore' });
    } catch {
      // `run` already deleted it
    }
  }
}

/** A limit file of the container's cgroup, as the host sees it. */
function cgroupFile(id: string, v1: [string, string], v2: string): string {
  const path = `${CGROUP_PARENT}/${id}`;
  return MODE === 'v2' ? join('/sys/fs/cgroup', path, v2) : join('/sys/fs/cgroup', v1[0], path, v1[1]);
}

async function removeCgroupParent(): Promise<void> {
  const roots = MODE === 'v2' ? ['/sys/fs/cgroup'] : (await readdir('/sys/fs/cgroup')).map((c) => join('/sys/fs/cgroup', c));
  for (const r of roots) await rmdir(join(r, CGROUP_PARENT)).catch(() => undefined);
}

const spec = (over: Partial<SpecOptions> = {}) =>
  buildSpec(base({ rootfs, args: ['/bin/sh', '-c', 'true'], hostname: 'box', nofile: hostNofileLimit(), ...over }));
const sh = (script: string, over: Partial<SpecOptions> = {}) => spec({ args: ['/bin/sh', '-c', script], ...over });
const status = (out: string, key: string) => new RegExp(`^${key}:\\s+(\\S+)`, 'm').exec(out)?.[1];
const CAP_MASK = '00000000800405fb';

/**
 * What each runtime prints when it cannot start the program: the driver maps
 * the first two to exit 127 and 126 (as docker), the third to a resource error.
 */
const RUNTIME_ERRORS: Record<string, { notFound: RegExp; absentPath: RegExp; notExecutable: RegExp; memoryTooSmall: RegExp; nofile: RegExp }> = {
  runc: {
    // runc logs in logfmt, so the quotes arrive as \"
    notFound: /exec: \\"nosuchcmd\\": executable file not found in \$PATH/,
    absentPath: /exec: \\"\/nonexistent\\": stat \/nonexistent: no such file or directory/,
    notExecutable: /exec: \\"\/etc\/passwd\\": permission denied/,
    memoryTooSmall: /unable to set memory limit to 65536 \(current usage: \d+, peak usage: \d+\)/,
    nofile: /error setting rlimit type 7: operation not permitted/,
  },
  crun: {
    notFound: /executable file `nosuchcmd` not found in \$PATH: No such file or directory/,
    absentPath: /executable file `\/nonexistent` not found in \$PATH: No such file or directory/,
    notExecutable: /open executable: Permission denied/,
    memoryTooSmall: /OOM: the memory limit could be too low/,
    nofile: /setrlimit `RLIMIT_NOFILE`: Operation not permitted/,
  },
};

const canRun = isRoot && BUSYBOX !== undefined;
describe.skipIf(!canRun)(`containers from buildSpec (cgroup ${MODE})${canRun ? '' : ': skipped, needs root and busybox'}`, () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'hull-spec-'));
    // A user namespace's root is an unprivileged host uid: it must be able to
    // reach the rootfs, or the runtimes fail with `make ROOTFS private:
    // Permission denied` (crun) / `mount ROOTFS:ROOTFS, flags: 0x5000: permission denied` (runc).
    await chmod(work, 0o711);
    rootfs = join(work, 'rootfs');
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    await mkdir(join(rootfs, 'etc'));
    execFileSync('cp', [BUSYBOX!, join(rootfs, 'bin/busybox')]);
    execFileSync('chroot', [rootfs, '/bin/busybox', '--install', '-s', '/bin']);
    await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n');
    await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nwheel:x:10:user\nuser:x:1000:\n');
  });
  afterAll(async () => {
    // No container run here may change the host's /dev/null (see runContainer).
    const nul = await stat('/dev/null');
    expect([nul.uid, nul.gid, nul.mode & 0o777]).toEqual([0, 0, 0o666]);
    await removeCgroupParent();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe.each(['crun', 'runc'])('%s', (rt) => {
    const skip = !has(rt);
    const t = it.skipIf(skip);
    if (skip) it.skip(`${rt} is not installed`, () => undefined);

    t('runs the program and returns its output and exit code', async () => {
      const r = await runContainer(rt, sh('echo hello; echo oops >&2; hostname; echo "$HOSTNAME $PATH"; pwd; exit 7'));
      expect(r.code).toBe(7);
      expect(r.stdout).toBe(`hello\nbox\nbox ${DEFAULT_PATH}\n/\n`);
      expect(r.stderr).toContain('oops');
    });

    t('gives root the 11 capabilities and a seccomp filter, no_new_privs only when asked', async () => {
      const r = await runContainer(rt, sh('cat /proc/self/status'));
      expect(r.code).toBe(0);
      for (const k of ['CapEff', 'CapPrm', 'CapBnd']) expect(status(r.stdout, k), k).toBe(CAP_MASK);
      expect(status(r.stdout, 'CapInh')).toBe('0000000000000000');
      expect(status(r.stdout, 'CapAmb')).toBe('0000000000000000');
      expect(status(r.stdout, 'Seccomp')).toBe('2');
      expect(status(r.stdout, 'NoNewPrivs')).toBe('0');
      const nnp = await runContainer(rt, sh('cat /proc/self/status', { noNewPrivileges: true }));
      expect(status(nnp.stdout, 'NoNewPrivs')).toBe('1');
    });

    t('refuses raw sockets without NET_RAW, and a tun node even with MKNOD, on both runtimes', async () => {
      const caps = [...DEFAULT_CAPABILITIES, 'CAP_MKNOD'];
      const script = [
        'ping -c1 -W1 127.0.0.1 2>&1 | tail -1',
        'mknod /dev/null2 c 1 3 && echo x > /dev/null2 && echo null=ok',
        'mkdir -p /dev/net; mknod /dev/net/tun c 10 200 2>&1; echo tun=$?',
        'mkfifo /dev/fifo && echo fifo=ok',
      ].join('\n');
      const r = await runContainer(rt, sh(script, { capabilities: caps }));
      expect(r.stdout).toContain('ping: permission denied (are you root?)\n');
      expect(r.stdout).toContain('null=ok\n');
      expect(r.stdout).toMatch(/mknod: \/dev\/net\/tun: Operation not permitted\ntun=1\n/);
      expect(r.stdout).toContain('fifo=ok\n');
      const raw = await runContainer(rt, sh('ping -c1 -W1 127.0.0.1 >/dev/null 2>&1; echo ping=$?', { capabilities: [...DEFAULT_CAPABILITIES, 'CAP_NET_RAW'] }));
      expect(raw.stdout).toBe('ping=0\n');
    });

    t('runs a non-root user with its groups and no effective capabilities', async () => {
      const r = await runContainer(rt, sh('id -u; id -g; id -G; cat /proc/self/status', { user: { uid: 1000, gid: 1000, additionalGids: [10] } }));
      const [uid, gid, groups] = r.stdout.split('\n');
      expect([uid, gid]).toEqual(['1000', '1000']);
      expect(groups.split(' ')).toContain('10');
      expect(status(r.stdout, 'CapEff')).toBe('0000000000000000');
      expect(status(r.stdout, 'CapBnd')).toBe(CAP_MASK);
    });

    t('refuses mounts, new namespaces and sethostname; masks and write-protects kernel files', async () => {
      const script = [
        'mount -t tmpfs x /mnt 2>&1; echo mount=$?',
        'unshare -U true 2>&1; echo unshare=$?',
        'hostname other 2>&1; echo sethostname=$?',
        'echo masked=$(cat /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug 2>/dev/null | wc -c)',
        'echo firmware=$(ls /sys/firmware | wc -l)',
        'echo 1 2>/dev/null > /proc/sys/kernel/ostype; echo procsys=$?',
        'touch /sys/x 2>/dev/null; echo sys=$?',
        'echo links=$(ip -o link | wc -l)',
        'chroot / true; echo chroot=$?',
        'echo cgroupns=$(head -1 /proc/self/cgroup)',
      ].join('\n');
      const r = await runContainer(rt, sh(script));
      expect(r.stdout).toMatch(/permission denied[^\n]*\nmount=[1-9]/);
      expect(r.stdout).toMatch(/Operation not permitted\nunshare=1/);
      expect(r.stdout).toMatch(/Operation not permitted\nsethostname=1/);
      expect(r.stdout).toContain('masked=0\n');
      expect(r.stdout).toContain('firmware=0\n');
      expect(r.stdout).toContain('procsys=1\n');
      expect(r.stdout).toContain('sys=1\n');
      expect(r.stdout).toContain('links=1\n'); // loopback only
      expect(r.stdout).toContain('chroot=0\n');
      expect(r.stdout).toMatch(/cgroupns=\d+:[^:]*:\/\n/);
    });

    t('OOM-kills a memory hog over a 32 MiB limit with 137', async () => {
      const r = await runContainer(rt, spec({ args: ['tail', '/dev/zero'], memoryBytes: 32 << 20 }));
      expect(r.code).toBe(137);
    });

    t('stops a fork loop at a pids limit of 20', async () => {
      const r = await runContainer(rt, sh('for i in $(seq 40); do sleep 5 & done; echo never', { pidsLimit: 20 }));
      expect(r.stderr).toContain("can't fork: Resource temporarily unavailable");
      expect(r.stdout).not.toContain('never');
      expect(r.code).not.toBe(0);
    });

    t('shows memory, cpu and pids limits in the host cgroup while it runs', async () => {
      const seen: Record<string, string> = {};
      let cgroupDir = '';
      const s = sh('echo ready; exec sleep 10', { memoryBytes: 64 << 20, cpus: 0.5, pidsLimit: 100 });
      const r = await runContainer(rt, s, async (id) => {
        const read = (v1: [string, string], v2: string) => readFile(cgroupFile(id, v1, v2), 'utf8').then((x) => x.trim());
        seen.memory = await read(['memory', 'memory.limit_in_bytes'], 'memory.max');
        seen.cpu = await read(['cpu', 'cpu.cfs_quota_us'], 'cpu.max');
        seen.pids = await read(['pids', 'pids.max'], 'pids.max');
        cgroupDir = cgroupFile(id, ['memory', ''], '');
      });
      expect(r.code).toBe(137); // killed by the test
      expect(seen).toEqual({ memory: String(64 << 20), cpu: MODE === 'v2' ? '50000 100000' : '50000', pids: '100' });
      expect(existsSync(cgroupDir)).toBe(false); // removed with the container
    });

    t('sets RLIMIT_NOFILE to the host limit', async () => {
      const r = await runContainer(rt, sh('ulimit -n; ulimit -Hn'));
      expect(r.stdout).toBe(`${hostNofileLimit()}\n${hostNofileLimit()}\n`);
    });

    t('maps ids in a user namespace', async () => {
      const r = await runContainer(rt, sh('cat /proc/self/uid_map /proc/self/gid_map; id -u; grep CapEff /proc/self/status; touch /sys/x 2>/dev/null; echo sys=$?; ls /bin/busybox', { userns: { hostId: 100000, size: 65536 } }));
      expect(r.stderr).toBe('');
      const maps = r.stdout.split('\n').slice(0, 2).map((l) => l.trim().split(/\s+/));
      expect(maps).toEqual([['0', '100000', '65536'], ['0', '100000', '65536']]);
      expect(r.stdout).toContain(`\n0\nCapEff:\t${CAP_MASK}\nsys=1\n/bin/busybox\n`);
    });

    t('honours a read-only rootfs and extra bind mounts', async () => {
      const data = join(work, `data-${rt}`);
      await mkdir(data, { recursive: true });
      await writeFile(join(data, 'in'), 'from host\n');
      const mounts = [{ destination: '/data', source: data, type: 'bind', options: ['rbind', 'rw'] }];
      const r = await runContainer(rt, sh('touch /x 2>&1; cat /data/in; echo out > /data/out; echo shm > /dev/shm/f && cat /dev/shm/f', { readonlyRootfs: true, mounts }));
      expect(r.stdout).toBe("touch: /x: Read-only file system\nfrom host\nshm\n");
      expect(await readFile(join(data, 'out'), 'utf8')).toBe('out\n');
    });

    it.skipIf(skip || !has('ip'))('joins a network namespace given by path', async () => {
      const name = `hull-test-${process.pid}-${rt}`;
      execFileSync('ip', ['netns', 'add', name]);
      try {
        const path = `/run/netns/${name}`;
        const r = await runContainer(rt, sh('readlink /proc/self/ns/net', { netnsPath: path }));
        expect(r.stdout.trim()).toBe(`net:[${statSync(path).ino}]`);
      } finally {
        execFileSync('ip', ['netns', 'del', name]);
      }
    });

    t('fails to start, with these messages, when the program is missing or not executable', async () => {
      const want = RUNTIME_ERRORS[rt];
      const notFound = await runContainer(rt, spec({ args: ['nosuchcmd'] }));
      expect(notFound.code).toBe(1);
      expect(notFound.stderr).toMatch(want.notFound);
      const absent = await runContainer(rt, spec({ args: ['/nonexistent'] }));
      expect(absent.stderr).toMatch(want.absentPath);
      const notExec = await runContainer(rt, spec({ args: ['/etc/passwd'] }));
      expect(notExec.code).toBe(1);
      expect(notExec.stderr).toMatch(want.notExecutable);
    });

    t('fails to start, with these messages, under a tiny memory limit', async () => {
      const s = spec({ args: ['true'] });
      s.linux.resources.memory = { limit: 65536, swap: 65536 }; // below what buildSpec allows
      const r = await runContainer(rt, s);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(RUNTIME_ERRORS[rt].memoryTooSmall);
    });

    it.skipIf(skip || hasCapSysResource() || hostNofileLimit() >= 1048576)('fails to start when asked for more open files than the host allows', async () => {
      const r = await runContainer(rt, spec({ args: ['true'], nofile: hostNofileLimit() + 1 }));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(RUNTIME_ERRORS[rt].nofile);
    });
  });
});
