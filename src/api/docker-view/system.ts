/**
 * `docker info` and `docker version` in docker's shapes, from what Hull's
 * /v1/info and /v1/version give. Pure, as container.ts.
 */
export interface HullInfo {
  version: string;
  kernel: string;
  cgroupMode: string;
  defaultRuntime: string;
  runtimes: Record<string, string>;
  containers: { total: number; running: number; paused: number; stopped: number };
  images?: number;
  root: string;
  hostname?: string;
  os?: string;
  arch?: string;
  ncpu?: number;
  memTotal?: number;
}

export function infoJson(i: HullInfo) {
  return {
    Containers: i.containers.total,
    ContainersRunning: i.containers.running,
    ContainersPaused: i.containers.paused,
    ContainersStopped: i.containers.stopped,
    Images: i.images ?? 0,
    Driver: 'overlay',
    CgroupDriver: 'cgroupfs',
    // v1 and hybrid hosts run containers on the v1 controllers.
    CgroupVersion: i.cgroupMode === 'v2' ? '2' : '1',
    KernelVersion: i.kernel,
    OperatingSystem: 'Hull',
    OSType: i.os ?? 'linux',
    Architecture: dockerArch(i.arch),
    NCPU: i.ncpu ?? 0,
    MemTotal: i.memTotal ?? 0,
    DockerRootDir: i.root,
    Name: i.hostname ?? '',
    ServerVersion: i.version,
    DefaultRuntime: i.defaultRuntime,
    Runtimes: Object.fromEntries(Object.entries(i.runtimes).map(([k, path]) => [k, { path }])),
  };
}

export interface HullVersion {
  version: string;
  apiVersion: string;
  node: string;
  os: string;
  arch: string;
  kernel?: string;
}

export function versionJson(server: HullVersion, client: { version: string }) {
  const side = (v: string) => ({ Version: v, ApiVersion: server.apiVersion, Os: server.os, Arch: server.arch, NodeVersion: server.node });
  return { Client: side(client.version), Server: { ...side(server.version), KernelVersion: server.kernel ?? '' } };
}

/** uname's machine name, as docker's Architecture (Node says x64 and arm64). */
const dockerArch = (a = '') => ({ x64: 'x86_64', arm64: 'aarch64', ia32: 'i386' })[a] ?? a;
