import type { FastifyPluginAsync } from 'fastify';
import { availableParallelism, hostname, totalmem } from 'node:os';
import { z } from 'zod';
import type { EventMessage } from '../../../core/events.js';
import { eventFilter, EVENT_FILTERS } from '../../event-filter.js';
import { parseFilters } from '../../filters.js';
import { MAX_API, MIN_API } from '../api-version.js';
import { DockerError } from '../errors.js';
import { dockerBody, qStr, type RawQuery } from '../query.js';
import type { DockerCtx } from '../server.js';
import { containerSummary } from '../translate/container.js';
import { imageRow } from '../translate/image.js';
import { volumeLookup } from '../translate/mounts.js';
import { volumeJson } from '../../docker-view/volume.js';

const arch = () => ({ x64: 'x86_64', arm64: 'aarch64' })[process.arch as string] ?? process.arch;
const goArch = () => ({ x64: 'amd64', arm64: 'arm64' })[process.arch as string] ?? process.arch;

/** What an events client may leave unread before it is let go. */
const MAX_UNREAD = 8 * 1024 * 1024;

const AuthBody = z.object({ username: z.string().nullish(), password: z.string().nullish(), serveraddress: z.string().nullish() }).loose();

/** `_ping`, `version`, `info`, `system/df`, `events`, `auth`. */
export const systemRoutes =
  (ctx: DockerCtx): FastifyPluginAsync =>
  async (app) => {
    const { engine, images, version } = ctx;

    const ping = (method: 'GET' | 'HEAD') =>
      app.route({
        method,
        url: '/_ping',
        handler: async (_req, reply) => {
          // No BuildKit here: clients fall back to the classic builder (POST /build with a tar context).
          reply.headers({ 'Builder-Version': '1', Swarm: 'inactive', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' });
          return reply.type('text/plain; charset=utf-8').send(method === 'HEAD' ? undefined : 'OK');
        },
      });
    ping('GET');
    ping('HEAD');

    app.get('/version', async () => {
      const engineComponent = { Name: 'Engine', Version: version, Details: { ApiVersion: MAX_API, MinAPIVersion: MIN_API, Os: 'linux', Arch: goArch(), KernelVersion: engine.host.kernel, Experimental: 'false' } };
      const runtime = engine.host.defaultRuntime;
      return {
        Platform: { Name: `Hull ${version}` },
        Components: [engineComponent, { Name: runtime, Version: '', Details: { path: engine.host.runtimes[runtime] ?? '' } }],
        Version: version,
        ApiVersion: MAX_API,
        MinAPIVersion: MIN_API,
        GitCommit: '',
        GoVersion: `node ${process.version}`,
        Os: 'linux',
        Arch: goArch(),
        KernelVersion: engine.host.kernel,
        BuildTime: '',
      };
    });

    app.get('/info', async () => {
      const h = engine.host;
      const all = await engine.list(true);
      const count = (s: string) => all.filter((i) => i.state.status === s).length;
      return {
        ID: '',
        Containers: all.length,
        ContainersRunning: count('running'),
        ContainersPaused: count('paused'),
        ContainersStopped: all.length - count('running') - count('paused'),
        Images: (await images.list()).length,
        Driver: 'overlay2',
        DriverStatus: [['Backing Filesystem', 'overlayfs']],
        DockerRootDir: engine.root,
        Plugins: { Volume: [], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
        MemoryLimit: true,
        SwapLimit: false,
        CpuCfsPeriod: true,
        CpuCfsQuota: true,
        CPUShares: false,
        CPUSet: false,
        PidsLimit: true,
        OomKillDisable: false,
        IPv4Forwarding: true,
        Debug: false,
        NFd: 0,
        NGoroutines: 0,
        SystemTime: new Date().toISOString(),
        LoggingDriver: 'json-file',
        CgroupDriver: 'cgroupfs',
        CgroupVersion: h.cgroupMode === 'v2' ? '2' : '1',
        NEventsListener: 0,
        KernelVersion: h.kernel,
        OperatingSystem: 'Hull',
        OSVersion: '',
        OSType: 'linux',
        Architecture: arch(),
        NCPU: availableParallelism(),
        MemTotal: totalmem(),
        IndexServerAddress: 'https://index.docker.io/v1/',
        RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], InsecureRegistryCIDRs: ['127.0.0.0/8'], IndexConfigs: {}, Mirrors: [] },
        GenericResources: null,
        HttpProxy: '',
        HttpsProxy: '',
        NoProxy: '',
        Name: hostname(),
        Labels: [],
        ExperimentalBuild: false,
        ServerVersion: version,
        Runtimes: Object.fromEntries(Object.entries(h.runtimes).map(([k, path]) => [k, { path }])),
        DefaultRuntime: h.defaultRuntime,
        Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
        LiveRestoreEnabled: true,
        Isolation: '',
        InitBinary: '',
        ContainerdCommit: { ID: '', Expected: '' },
        RuncCommit: { ID: '', Expected: '' },
        InitCommit: { ID: '', Expected: '' },
        SecurityOptions: ['name=seccomp,profile=builtin'],
        DefaultAddressPools: [],
        Warnings: h.cgroupMode === 'hybrid' ? ['hybrid cgroups: crun runs in a private mount namespace without the cgroup2 mount'] : [],
      };
    });

    app.get('/system/df', async () => {
      const all = await engine.list(true);
      const list = await images.list();
      const vols = engine.volumes.store();
      const volume = await volumeLookup(vols, all);
      const used = (id: string) => all.filter((i) => i.config.imageId === id).length;
      const rows = list.map((i) => ({ ...imageRow(i, used(i.id)), SharedSize: 0 }));
      return {
        LayersSize: list.reduce((n, i) => n + i.size, 0),
        Images: rows,
        Containers: all.map((i) => ({ ...containerSummary(i, volume), SizeRw: 0, SizeRootFs: 0 })),
        Volumes: await Promise.all(
          (await vols.list()).map(async (v) => ({ ...volumeJson({ ...v, mountpoint: vols.paths(v).hostDir }), UsageData: { Size: -1, RefCount: (await vols.users(v)).length } })),
        ),
        BuildCache: [],
      };
    });

    /**
     * Events as a JSON stream: `since` replays what the log holds from then
     * on, `until` ends the stream at that time; docker's filters.
     */
    app.get('/events', async (req, reply) => {
      const q = req.query as RawQuery;
      const match = eventFilter(parseFilters(qStr(q, 'filters'), EVENT_FILTERS));
      const since = eventTime(qStr(q, 'since'), 'since');
      const until = eventTime(qStr(q, 'until'), 'until');
      reply.hijack();
      reply.raw.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': MAX_API });
      reply.raw.flushHeaders();
      const send = (ev: EventMessage) => {
        if (!match(ev) || reply.raw.writableEnded) return;
        // A client that stopped reading is let go rather than held in memory.
        if (reply.raw.writableLength > MAX_UNREAD) return void reply.raw.destroy();
        reply.raw.write(`${JSON.stringify(ev)}\n`);
      };
      if (since !== undefined) engine.eventLog.replay({ sinceMs: since, untilMs: until }).forEach(send);
      if (until !== undefined && until <= Date.now()) return void reply.raw.end();
      const off = engine.eventLog.subscribe(send);
      const end = () => {
        off();
        clearTimeout(timer);
        reply.raw.end();
      };
      const timer = until === undefined ? undefined : setTimeout(end, Math.min(until - Date.now(), 2 ** 31 - 1));
      req.raw.on('close', end);
    });

    /** `docker login`: the credentials are checked against the registry and kept by the daemon (Hull's own login). */
    app.post('/auth', async (req) => {
      const b = dockerBody(AuthBody, req.body, 'auth request');
      if (!b.username || !b.password) throw new DockerError(400, 'a username and a password are needed (identity tokens are not supported)');
      await images.registry.login(b.serveraddress || 'docker.io', { username: b.username, password: b.password });
      return { Status: 'Login Succeeded', IdentityToken: '' };
    });
  };

/** docker's since/until: unix seconds (with a fraction), or an RFC 3339 time; milliseconds out. */
function eventTime(v: string | undefined, what: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const ms = /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : Date.parse(v);
  if (!Number.isFinite(ms)) throw new DockerError(400, `invalid ${what} "${v.slice(0, 64)}": unix seconds or an RFC 3339 time`);
  return ms;
}
