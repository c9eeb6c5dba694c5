import { z } from 'zod';
import { nullable } from '../query.js';

/**
 * docker's container create body (Config, HostConfig, NetworkingConfig) as
 * Hull reads it: the fields Hull acts on, typed; every other field is let
 * through (`loose`), as dockerd's decoder ignores what it does not know.
 * Go's nil slices and maps arrive as null and read as absent.
 */
export const strList = nullable(z.array(z.string()));
export const strMap = nullable(z.record(z.string(), z.string()));
export const num = nullable(z.number());

const PortBinding = z.object({ HostIp: nullable(z.string()), HostPort: nullable(z.string()) }).loose();
const Endpoint = z
  .object({
    Aliases: strList,
    IPAMConfig: nullable(z.object({ IPv4Address: nullable(z.string()), IPv6Address: nullable(z.string()) }).loose()),
    Links: strList,
    MacAddress: nullable(z.string()),
  })
  .loose();

/** One of HostConfig.Mounts (`--mount`, compose's long volume syntax). */
export const MountBody = z
  .object({
    Type: z.string(),
    Source: nullable(z.string()),
    Target: z.string({ error: 'Mounts[].Target is required' }),
    ReadOnly: nullable(z.boolean()),
    BindOptions: nullable(z.object({ Propagation: nullable(z.string()), CreateMountpoint: nullable(z.boolean()) }).loose()),
    VolumeOptions: nullable(
      z
        .object({
          NoCopy: nullable(z.boolean()),
          Labels: strMap,
          DriverConfig: nullable(z.object({ Name: nullable(z.string()), Options: strMap }).loose()),
          Subpath: nullable(z.string()),
        })
        .loose(),
    ),
    TmpfsOptions: nullable(z.object({ SizeBytes: num, Mode: num }).loose()),
  })
  .loose();

export const HealthConfigSchema = z
  .object({ Test: strList, Interval: num, Timeout: num, Retries: num, StartPeriod: num, StartInterval: num })
  .loose();

export const HostConfigSchema = z
  .object({
    Binds: strList,
    NetworkMode: nullable(z.string()),
    PortBindings: nullable(z.record(z.string(), nullable(z.array(PortBinding)))),
    RestartPolicy: nullable(z.object({ Name: nullable(z.string()), MaximumRetryCount: num }).loose()),
    AutoRemove: nullable(z.boolean()),
    VolumesFrom: strList,
    Mounts: nullable(z.array(MountBody)),
    CapAdd: strList,
    CapDrop: strList,
    Dns: strList,
    DnsOptions: strList,
    DnsSearch: strList,
    ExtraHosts: strList,
    Links: strList,
    Privileged: nullable(z.boolean()),
    PublishAllPorts: nullable(z.boolean()),
    ReadonlyRootfs: nullable(z.boolean()),
    SecurityOpt: strList,
    Tmpfs: strMap,
    UsernsMode: nullable(z.string()),
    Runtime: nullable(z.string()),
    Memory: num,
    NanoCpus: num,
    CpuQuota: num,
    CpuPeriod: num,
    PidsLimit: num,
    Init: nullable(z.boolean()),
    Devices: nullable(z.array(z.object({ PathOnHost: z.string(), PathInContainer: nullable(z.string()), CgroupPermissions: nullable(z.string()) }).loose())),
    StorageOpt: strMap,
    DeviceRequests: nullable(z.array(z.unknown())),
    PidMode: nullable(z.string()),
    IpcMode: nullable(z.string()),
    UTSMode: nullable(z.string()),
    LogConfig: nullable(z.object({ Type: nullable(z.string()), Config: strMap }).loose()),
    Sysctls: strMap,
    Isolation: nullable(z.string()),
    ConsoleSize: nullable(z.array(z.number().int().min(0).max(65535)).length(2)),
  })
  .loose();

export const CreateBodySchema = z
  .object({
    Hostname: nullable(z.string()),
    Domainname: nullable(z.string()),
    User: nullable(z.string()),
    ExposedPorts: nullable(z.record(z.string(), z.unknown())),
    Tty: nullable(z.boolean()),
    OpenStdin: nullable(z.boolean()),
    Env: strList,
    Cmd: nullable(z.union([z.array(z.string()), z.string()])),
    Entrypoint: nullable(z.union([z.array(z.string()), z.string()])),
    Healthcheck: nullable(HealthConfigSchema),
    Image: z.string({ error: 'Config.Image is required' }).min(1, 'Config.Image is required'),
    Volumes: nullable(z.record(z.string(), z.unknown())),
    WorkingDir: nullable(z.string()),
    NetworkDisabled: nullable(z.boolean()),
    MacAddress: nullable(z.string()),
    Labels: strMap,
    StopSignal: nullable(z.string()),
    StopTimeout: num,
    HostConfig: nullable(HostConfigSchema),
    NetworkingConfig: nullable(z.object({ EndpointsConfig: nullable(z.record(z.string(), nullable(Endpoint))) }).loose()),
  })
  .loose();

export type CreateBody = z.output<typeof CreateBodySchema>;
export type HostConfigBody = z.output<typeof HostConfigSchema>;
