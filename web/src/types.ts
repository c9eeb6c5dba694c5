/**
 * The API's response shapes the dashboard reads, as src/api/openapi.yaml
 * describes them (the fields used here). Services' shapes come from the
 * API's typed contract.
 */
export type { ApplyBodyInput, ApplyResult, ReplicaRow, ServiceDetail, ServiceSummary } from '../../src/api/contract/services.js';
export type { Node as HullNode } from '../../src/api/contract/nodes.js';

export interface PortMapping {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

export interface NetworkAddress {
  network: string;
  ipAddress: string;
  prefixLen: number;
  gateway: string;
  macAddress: string;
  aliases: string[];
}

export interface Mount {
  type: 'volume' | 'bind' | 'tmpfs';
  source: string;
  target: string;
  readOnly: boolean;
}

export interface ContainerSummary {
  id: string;
  name: string;
  type: 'container' | 'vm';
  isolation?: 'container' | 'vm';
  image: string;
  command: string;
  createdAt: string;
  status: string;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  /** A user stopped it: its exit code (often 137, the stop timeout's SIGKILL) is no failure. */
  stoppedByUser: boolean;
  health?: string;
  ports: PortMapping[];
  networks: NetworkAddress[];
  mounts: Mount[];
}

export interface Instance {
  id: string;
  name: string;
  type: 'container' | 'vm';
  createdAt: string;
  config: {
    image: string;
    cmd: string[];
    entrypoint: string[];
    tty: boolean;
    openStdin: boolean;
    runtime: string;
    restartPolicy: { name: string };
    networks?: NetworkAddress[];
    ports?: PortMapping[];
    mounts?: Mount[];
    isolation?: string;
  };
  state: { status: string; pid: number; exitCode: number; error: string; startedAt: string; finishedAt: string; restartCount: number; oomKilled: boolean; stoppedByUser: boolean; health?: { status?: string } };
  owner?: { kind: string; name: string };
  vm?: { spec?: { image?: string; memoryBytes?: number; cpus?: number; diskBytes?: number }; accel?: { accel: string; reason?: string }; qmpStatus?: string };
}

export interface Stats {
  memoryUsage: number;
  memoryLimit: number;
  memoryCounted: string;
  cpuUsageNs: number;
  pids: number;
  pidsLimit: number;
  read: string;
}

export interface HullEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  time: number;
  timeNano: number;
}

export interface ImageSummary {
  id: string;
  tags: string[];
  size: number;
  createdAt: string;
  architecture: string;
  os: string;
}

export interface ProgressEvent {
  type: 'status' | 'layer' | 'result' | 'error';
  message?: string;
  id?: string;
  status?: string;
  current?: number;
  total?: number;
  name?: string;
  digest?: string;
}

export interface NetworkSummary {
  id: string;
  name: string;
  driver: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  isDefault: boolean;
  containers: number;
  createdAt: string;
}

export interface VolumeSummary {
  id: string;
  name: string;
  driver: string;
  sizeBytes?: number;
  anonymous: boolean;
  createdAt: string;
}

export interface Version {
  version: string;
  apiVersion: string;
}

export interface Info {
  version: string;
  kernel: string;
  cgroupMode: string;
  defaultRuntime: string;
  kvm: boolean;
  hostname: string;
  os: string;
  arch: string;
  ncpu: number;
  memTotal: number;
  root: string;
  daemonRss: number;
  storage: { filesystem: string };
  store: { kind: string } | null;
  containers: { total: number; running: number; paused: number; stopped: number };
  images: number;
}
