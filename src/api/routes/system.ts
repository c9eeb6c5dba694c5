import { API_VERSION, type ApiDeps } from '../server.js';
import type { Routes } from '../validation.js';

export const systemRoutes =
  ({ engine, version }: ApiDeps): Routes =>
  async (app) => {
    app.get('/_ping', async (_req, reply) => reply.header('Api-Version', API_VERSION).type('text/plain').send('OK'));

    app.get('/v1/version', async () => ({ version, apiVersion: API_VERSION, node: process.version, os: 'linux', arch: process.arch }));

    app.get('/v1/info', async () => {
      const h = engine.host;
      const all = await engine.list(true);
      const count = (s: string) => all.filter((i) => i.state.status === s).length;
      return {
        version,
        kernel: h.kernel,
        cgroupMode: h.cgroupMode,
        cgroupNote: h.cgroupMode === 'hybrid' ? 'hybrid cgroups: crun runs in a private mount namespace without the cgroup2 mount' : '',
        defaultRuntime: h.defaultRuntime,
        runtimes: h.runtimes,
        conmon: h.conmon ?? null,
        kvm: h.kvm,
        storage: {
          filesystem: h.storage?.filesystem ?? 'unknown',
          sizeLimits: h.storage?.method ?? null,
          reason: h.storage?.reason ?? null,
          defaultSize: engine.defaultStorageBytes ?? null,
        },
        containers: { total: all.length, running: count('running'), paused: count('paused'), stopped: count('exited') + count('created') },
        root: engine.root,
        daemonPid: process.pid,
        daemonRss: process.memoryUsage().rss,
      };
    });

    app.get('/v1/events', async (req, reply) => {
      // Headers go out at once: a client waits for them before the first event, which may be far off.
      reply.hijack();
      reply.raw.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      reply.raw.flushHeaders();
      const on = (ev: unknown) => reply.raw.write(`${JSON.stringify(ev)}\n`);
      engine.events.on('event', on);
      req.raw.on('close', () => {
        engine.events.off('event', on);
        reply.raw.end();
      });
    });
  };
