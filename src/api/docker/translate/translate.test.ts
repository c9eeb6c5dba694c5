import { describe, expect, it } from 'vitest';
import { CreateBodySchema, translateCreate } from './create.js';
import { translateUpdate, UpdateBodySchema } from './update.js';
import { dockerHealthConfig, healthFromDocker } from './health.js';

const create = (body: object, name?: string) => translateCreate(CreateBodySchema.parse({ Image: 'busybox', ...body }), name);

describe("docker's create body → Hull's create options", () => {
  it('takes the zero values every docker client sends as "not set"', () => {
    const { options, warnings, later } = create({ Cmd: ['true'], HostConfig: { Memory: 0, NanoCpus: 0, PidsLimit: 0, PortBindings: {}, RestartPolicy: { Name: '', MaximumRetryCount: 0 }, Dns: [], CapAdd: null, LogConfig: { Type: '', Config: {} } } }, 'web');
    expect(options).toMatchObject({ name: 'web', image: 'busybox', cmd: ['true'], restartPolicy: 'no', ports: [], capAdd: [], privileged: false });
    expect(options).not.toHaveProperty('memoryBytes');
    expect(options).not.toHaveProperty('pidsLimit');
    expect(options).not.toHaveProperty('logConfig');
    expect(warnings).toEqual([]);
    expect(later).toEqual([]);
  });

  it('maps ports, limits, restart policy, security and log options', () => {
    const { options } = create({
      HostConfig: {
        PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '53/udp': [{ HostIp: '', HostPort: '' }] },
        Memory: 64 << 20,
        CpuQuota: 50_000,
        CpuPeriod: 100_000,
        PidsLimit: -1,
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges:true', 'seccomp=unconfined'],
        StorageOpt: { size: '1G' },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } },
      },
    });
    expect(options.ports).toEqual([
      { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostIp: '', hostPort: 0, containerPort: 53, protocol: 'udp' },
    ]);
    expect(create({ HostConfig: { Init: true } }).options.init).toBe(true);
    expect(create({ HostConfig: { Init: null } }).options.init).toBe(false);
    expect(options).toMatchObject({ memoryBytes: 64 << 20, cpus: 0.5, pidsLimit: -1, restartPolicy: 'on-failure', restartMaxRetries: 3, capDrop: ['ALL'], noNewPrivileges: true, seccompProfile: 'unconfined', storageBytes: 1 << 30, logConfig: { maxSize: 1 << 20, maxFile: 2 } });
  });

  it('joins the first network at create with its aliases and address, the others after, each with its own', () => {
    const { options, later } = create({
      HostConfig: { NetworkMode: 'front' },
      NetworkingConfig: { EndpointsConfig: { front: { Aliases: ['web'], IPAMConfig: { IPv4Address: '10.1.0.9' } }, back: { Aliases: ['api'] } } },
    });
    expect(options).toMatchObject({ networks: ['front'], networkAliases: ['web'], ip: '10.1.0.9' });
    expect(later).toEqual([{ network: 'back', aliases: ['api'] }]);
    expect(create({ HostConfig: { NetworkMode: 'default' } }).options.networks).toBeUndefined();
    expect(create({ HostConfig: { NetworkMode: 'none' } }).options.networks).toEqual(['none']);
    expect(create({ NetworkDisabled: true }).options.networks).toEqual(['none']);
  });

  it('warns about what only tunes, refuses with 501 what would change what the program can do', () => {
    expect(create({ HostConfig: { Dns: ['1.1.1.1'], ExtraHosts: ['a:1.2.3.4'], Sysctls: { 'net.core.somaxconn': '1024' } } }).warnings).toEqual([
      "Hull ignores --dns, --dns-option and --dns-search (the network's name server answers)",
      'Hull ignores --add-host',
      'Hull ignores --sysctl',
    ]);
    for (const h of [{ PidMode: 'host' }, { ReadonlyRootfs: true }, { NetworkMode: 'container:x' }, { Mounts: [{ Type: 'npipe', Target: '/x' }] }]) {
      expect(() => create({ HostConfig: h }), JSON.stringify(h)).toThrow(expect.objectContaining({ status: 501 }));
    }
  });

  it('takes -v, --mount, --tmpfs, anonymous volumes and --volumes-from as Hull mounts', () => {
    const { options } = create({
      Volumes: { '/scratch': {}, '/data': {} },
      HostConfig: {
        Binds: ['data:/data', '/srv:/srv:ro'],
        Mounts: [{ Type: 'bind', Source: '/tmp', Target: '/t', ReadOnly: true, BindOptions: { Propagation: 'rslave' } }, { Type: 'volume', Source: 'v', Target: '/v', VolumeOptions: { NoCopy: true } }],
        Tmpfs: { '/run': 'size=1m' },
        VolumesFrom: ['other:ro'],
      },
    });
    expect(options.mounts).toEqual([
      { type: 'volume', source: 'data', target: '/data', readOnly: false },
      { type: 'bind', source: '/srv', target: '/srv', readOnly: true, createHostPath: true },
      { type: 'bind', source: '/tmp', target: '/t', readOnly: true, propagation: 'rslave' },
      { type: 'volume', source: 'v', target: '/v', readOnly: false, noCopy: true },
      { type: 'tmpfs', source: '', target: '/run', readOnly: false, tmpfsSize: 1 << 20 },
      { type: 'volume', source: '', target: '/scratch', readOnly: false },
    ]);
    expect(options.volumesFrom).toEqual(['other:ro']);
    expect(() => create({ HostConfig: { Binds: ['a:b:c:d'] } })).toThrow(/invalid -v/);
  });

  it('refuses bad values with 400 and docker’s words', () => {
    expect(() => create({ HostConfig: { RestartPolicy: { Name: 'sometimes' } } })).toThrow("invalid restart policy 'sometimes'");
    expect(() => create({ HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 2 } } })).toThrow(/only be used with 'on-failure'/);
    expect(() => create({ HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } })).toThrow(/--restart and --rm/);
    expect(() => create({ HostConfig: { PortBindings: { 'eighty/tcp': [] } } })).toThrow(/invalid port specification/);
    expect(() => create({ HostConfig: { SecurityOpt: ['nonsense'] } })).toThrow(/invalid --security-opt/);
    expect(() => CreateBodySchema.parse({})).toThrow(/Config.Image is required/);
  });

  it('an entrypoint of [""] is none; a string Cmd is one word', () => {
    expect(create({ Entrypoint: [''] }).options.entrypoint).toEqual([]);
    expect(create({ Cmd: 'sh' }).options.cmd).toEqual(['sh']);
    expect(create({ Entrypoint: null, Cmd: null }).options).not.toHaveProperty('cmd');
  });

  it("docker update: zero is unchanged; the restart policy as docker's", () => {
    expect(translateUpdate(UpdateBodySchema.parse({ Memory: 0, NanoCpus: 0, RestartPolicy: { Name: '' } }))).toEqual({ resources: {}, restartPolicy: undefined, warnings: [] });
    const u = translateUpdate(UpdateBodySchema.parse({ Memory: 32 << 20, MemorySwap: 64 << 20, RestartPolicy: { Name: 'always' }, CpuShares: 512 }));
    expect(u.resources).toEqual({ memoryBytes: 32 << 20 });
    expect(u.restartPolicy).toEqual({ name: 'always' });
    expect(u.warnings).toHaveLength(2);
  });
});

describe("docker's health config ⇄ Hull's", () => {
  const s = 1e9;
  it('CMD and CMD-SHELL, docker’s defaults for what is 0', () => {
    expect(healthFromDocker({ Test: ['CMD-SHELL', 'wget -qO- localhost'], Interval: 2 * s }, undefined)).toEqual({
      probe: { exec: ['/bin/sh', '-c', 'wget -qO- localhost'] },
      intervalMs: 2000,
      timeoutMs: 30_000,
      retries: 3,
      startPeriodMs: 0,
      startIntervalMs: 5000,
    });
    expect(healthFromDocker({ Test: ['CMD', 'true'] }, undefined)).toMatchObject({ probe: { exec: ['true'] } });
  });

  it("[] keeps the image's test with the times given; NONE turns it off; nothing asked leaves the image's", () => {
    const image = { Test: ['CMD', 'check'], Interval: 10 * s, Retries: 5 };
    expect(healthFromDocker({ Test: [], Interval: 1 * s }, image)).toMatchObject({ probe: { exec: ['check'] }, intervalMs: 1000, retries: 5 });
    expect(healthFromDocker({ Test: ['NONE'] }, image)).toBe('none');
    expect(healthFromDocker(undefined, image)).toBeUndefined();
    expect(healthFromDocker({ Test: [], Interval: 1 * s }, undefined)).toBeUndefined();
  });

  it('refuses what docker refuses, raises what is below Hull’s 100 ms with a warning', () => {
    expect(() => healthFromDocker({ Test: ['CMD'] }, undefined)).toThrow(/invalid Healthcheck.Test/);
    expect(() => healthFromDocker({ Test: ['CMD', 'x'], Interval: 5 }, undefined)).toThrow('Interval in Healthcheck cannot be less than 1ms');
    const w: string[] = [];
    expect(healthFromDocker({ Test: ['CMD', 'x'], Interval: 10e6 }, undefined, w)).toMatchObject({ intervalMs: 100 });
    expect(w).toHaveLength(1);
  });

  it('a client before API 1.44 (no start interval) has its start period probed at the interval', () => {
    expect(healthFromDocker({ Test: ['CMD', 'x'], Interval: 2 * s, StartPeriod: 10 * s }, undefined, [], { startIntervalKnown: false })).toMatchObject({ intervalMs: 2000, startIntervalMs: 2000 });
    expect(healthFromDocker({ Test: ['CMD', 'x'], Interval: 2 * s, StartPeriod: 10 * s }, undefined)).toMatchObject({ startIntervalMs: 5000 });
  });

  it('round-trips to docker’s Config.Healthcheck', () => {
    const h = healthFromDocker({ Test: ['CMD-SHELL', 'exit 0'], Interval: 3 * s, Timeout: 2 * s, Retries: 4, StartPeriod: 1 * s, StartInterval: 1 * s }, undefined);
    expect(dockerHealthConfig(h as never)).toEqual({ Test: ['CMD-SHELL', 'exit 0'], Interval: 3 * s, Timeout: 2 * s, Retries: 4, StartPeriod: 1 * s, StartInterval: 1 * s });
  });
});

describe('the reference filter', () => {
  it('globs as docker does, in bounded time whatever the pattern', async () => {
    const { glob, referenceMatches } = await import('../routes/images.js');
    expect(referenceMatches('busy*', 'busybox:latest')).toBe(true);
    expect(referenceMatches('busybox', 'busybox:latest')).toBe(true);
    expect(referenceMatches('app:1.*', 'app:1.2')).toBe(true);
    expect(referenceMatches('app:1.*', 'app:2.0')).toBe(false);
    expect(glob('team/*', 'team/app:1')).toBe(true);
    expect(glob('*', 'team/app')).toBe(false);
    expect(glob('a?c', 'abc')).toBe(true);
    // A backtracking matcher would not finish this within the test's timeout; the walk takes 255 × 41 steps.
    expect(glob('*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(255))).toBe(false);
  });
});
