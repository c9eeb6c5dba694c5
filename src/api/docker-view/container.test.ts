import { describe, expect, it } from 'vitest';
import { newState, type Instance } from '../../core/instance.js';
import { containerJson, containerSummaryJson, statusText } from './container.js';

const now = Date.parse('2024-06-01T12:00:00Z');

describe("docker's Status column", () => {
  it.each([
    [{ status: 'running', startedAt: '2024-06-01T11:58:00Z' }, 'Up 2 minutes'],
    [{ status: 'running', startedAt: '2024-06-01T11:59:00Z' }, 'Up About a minute'],
    [{ status: 'paused', startedAt: '2024-06-01T10:00:00Z' }, 'Up 2 hours (Paused)'],
    [{ status: 'exited', exitCode: 137, finishedAt: '2024-06-01T11:59:30Z' }, 'Exited (137) 30 seconds ago'],
    [{ status: 'exited', exitCode: 1, finishedAt: '' }, 'Exited (1)'],
    [{ status: 'created' }, 'Created'],
    [{ status: 'creating' }, 'Created'],
    [{ status: 'removing' }, 'Removal In Progress'],
  ])('%j → %s', (s, want) => {
    expect(statusText({ exitCode: 0, startedAt: '', finishedAt: '', ...s }, now)).toBe(want);
  });
});

describe("docker's inspect document from a Hull record", () => {
  const inst: Instance = {
    id: 'a'.repeat(64),
    name: 'web',
    type: 'container',
    createdAt: '2024-06-01T11:00:00Z',
    config: {
      image: 'busybox',
      imageId: 'sha256:bb',
      cmd: ['sleep', '9'],
      entrypoint: [],
      env: ['A=1'],
      workingDir: '/',
      user: '',
      tty: false,
      openStdin: false,
      autoRemove: false,
      runtime: 'crun',
      userns: false,
      noNewPrivileges: false,
      resources: { memoryBytes: 64 << 20, cpus: 0.5, pidsLimit: 100 },
      restartPolicy: { name: 'on-failure', maxRetries: 3 },
      labels: { a: '1' },
      hostname: 'aaaaaaaaaaaa',
      networkMode: 'bridge',
      networks: [{ networkId: 'n'.repeat(64), network: 'hull0', ifName: 'eth0', ipAddress: '10.88.0.2', prefixLen: 16, gateway: '10.88.0.1', macAddress: '02:42:0a:58:00:02', aliases: ['w'] }],
      ports: [{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
      mounts: [
        { type: 'volume', source: 'data', target: '/data', readOnly: false, volumeId: 'v1', driver: 'block' },
        { type: 'volume', source: 'old', target: '/old', readOnly: false, volumeId: 'v2' },
        { type: 'bind', source: '/srv', target: '/srv', readOnly: true },
        { type: 'tmpfs', source: '', target: '/run', readOnly: false },
      ],
    },
    state: { ...newState(), status: 'running', pid: 42, startedAt: '2024-06-01T11:00:01Z', restartCount: 1 },
  };

  it('has the fields templates read most', () => {
    const d = containerJson(inst);
    expect(d.Name).toBe('/web');
    expect(d.State).toMatchObject({ Status: 'running', Running: true, Paused: false, Pid: 42, ExitCode: 0, StartedAt: '2024-06-01T11:00:01Z', FinishedAt: '0001-01-01T00:00:00Z', RestartCount: 1 });
    expect(d.RestartCount).toBe(1);
    expect(d.Path).toBe('sleep');
    expect(d.Args).toEqual(['9']);
    expect(d.Config).toMatchObject({ Image: 'busybox', Env: ['A=1'], Cmd: ['sleep', '9'], Labels: { a: '1' } });
    expect(d.HostConfig).toMatchObject({ Memory: 64 << 20, NanoCpus: 5e8, PidsLimit: 100, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 }, PortBindings: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] } });
    expect(d.NetworkSettings.IPAddress).toBe('10.88.0.2');
    expect(d.NetworkSettings.Networks.hull0).toMatchObject({ IPAddress: '10.88.0.2', Gateway: '10.88.0.1', Aliases: ['w'], IPPrefixLen: 16 });
    // Volumes by name and driver (an older record's: local), binds by host path, tmpfs.
    expect(d.Mounts).toEqual([
      { Type: 'volume', Name: 'data', Driver: 'block', Source: '', Destination: '/data', Mode: 'z', RW: true, Propagation: '' },
      { Type: 'volume', Name: 'old', Driver: 'local', Source: '', Destination: '/old', Mode: 'z', RW: true, Propagation: '' },
      { Type: 'bind', Source: '/srv', Destination: '/srv', Mode: 'ro', RW: false, Propagation: 'rprivate' },
      { Type: 'tmpfs', Source: '', Destination: '/run', Mode: '', RW: true, Propagation: '' },
    ]);
  });

  it('makes the ps row docker lists', () => {
    const s = containerSummaryJson({ ...inst, image: 'busybox', command: 'sleep 9', status: 'running', exitCode: 0, startedAt: inst.state.startedAt, finishedAt: '', labels: { a: '1' }, networks: inst.config.networks, ports: inst.config.ports, mounts: inst.config.mounts }, now);
    expect(s.Mounts.map((m) => m.Name ?? m.Source)).toEqual(['data', 'old', '/srv', '']);
    expect(s).toMatchObject({ Names: ['/web'], State: 'running', Status: 'Up 59 minutes', Created: Date.parse(inst.createdAt) / 1000, Ports: [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }] });
    expect(Object.keys(s.NetworkSettings.Networks)).toEqual(['hull0']);
  });
});
