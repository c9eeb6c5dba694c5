import { availableParallelism, hostname, totalmem } from 'node:os';
import { z } from 'zod';
import { HullError, invalid } from '../../core/errors.js';
import type { EventMessage } from '../../core/events.js';
import { eventFilter, EVENT_FILTERS } from '../event-filter.js';
import { parseFilters } from '../filters.js';
import { q } from '../parse.js';
import { API_VERSION, type ApiDeps } from '../server.js';
import type { Routes } from '../validation.js';
import type { StoreSpec } from '../../store/spec.js';

/** docker's events query: since and until (unix seconds or RFC 3339), filters (JSON, api/filters.ts). */
const EventsQuery = z.object({ since: q.str(), until: q.str(), filters: q.str() });

export const systemRoutes =
  ({ engine, images, version, store, dashboard }: ApiDeps): Routes =>
  async (app) => {
    app.get('/_ping', async (_req, reply) => reply.header('Api-Version', API_VERSION).type('text/plain').send('OK'));

    app.get('/v1/version', async () => ({ version, apiVersion: API_VERSION, node: process.version, os: 'linux', arch: process.arch, kernel: engine.host.kernel }));

    app.get('/v1/dashboard', async () => dashboard?.status() ?? { url: null, loginUrl: null, reason: 'this daemon serves no dashboard' });
    app.post('/v1/dashboard/rotate', async () => {
      if (!dashboard) throw new HullError('wrong_state', 'this daemon serves no dashboard');
      return dashboard.rotate();
    });

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
        images: (await images.list()).length,
        root: engine.root,
        store: store ? storeInfo(store) : null,
        hostname: hostname(),
        os: 'linux',
        arch: process.arch,
        ncpu: availableParallelism(),
        memTotal: totalmem(),
        daemonPid: process.pid,
        daemonRss: process.memoryUsage().rss,
      };
    });

    /**
     * docker's events: `since` replays what the log still holds from then on,
     * `until` ends the stream at that time (at once if it is past); `filters`
     * as docker's. Without `since`, only what happens from now on.
     */
    app.get('/v1/events', { schema: { querystring: EventsQuery } }, async (req, reply) => {
      const match = eventFilter(parseFilters(req.query.filters, EVENT_FILTERS));
      const since = eventTime(req.query.since, 'since');
      const until = eventTime(req.query.until, 'until');
      if (since !== undefined && until !== undefined && since > until) throw invalid('since must not be after until');
      // Headers go out at once: a client waits for them before the first event, which may be far off.
      reply.hijack();
      reply.raw.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      reply.raw.flushHeaders();
      const send = (ev: EventMessage) => {
        if (!match(ev) || reply.raw.writableEnded) return;
        reply.raw.write(`${JSON.stringify(ev)}\n`);
        // A client that stops reading must not make the daemon hold its events without limit.
        if (reply.raw.writableLength > MAX_BACKLOG) end();
      };
      let timer: NodeJS.Timeout | undefined;
      let off = () => {};
      const end = () => {
        off();
        clearTimeout(timer);
        if (!reply.raw.writableEnded) reply.raw.end();
      };
      // Replayed and subscribed in one tick: no event falls between the two.
      if (since !== undefined) engine.eventLog.replay({ sinceMs: since, untilMs: until }).forEach(send);
      if (until !== undefined && until <= Date.now()) return end();
      off = engine.eventLog.subscribe(send);
      // setTimeout takes at most about 24 days: a later until is reached in steps.
      const arm = () => {
        const left = until! - Date.now();
        if (left <= 0) return end();
        timer = setTimeout(arm, Math.min(left, 2 ** 31 - 1));
      };
      if (until !== undefined) arm();
      req.raw.on('close', end);
    });
  };

/** The store as `/v1/info` gives it: every field present, null where it does not apply. */
function storeInfo(s: StoreSpec) {
  return s.kind === 'sqlite' ? { kind: s.kind, path: s.path, endpoints: null, prefix: null } : { kind: s.kind, path: null, endpoints: s.endpoints, prefix: s.prefix };
}

/** Bytes of events a stream may have queued for a client that does not read them; past it the stream ends. */
const MAX_BACKLOG = 8 * 1024 * 1024;

/** docker's since/until: unix seconds (with a fraction), or an RFC 3339 time. Milliseconds out. */
function eventTime(v: string | undefined, what: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const ms = /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : Date.parse(v);
  if (!Number.isFinite(ms)) throw invalid(`invalid ${what} "${v}": unix seconds or an RFC 3339 time`);
  return ms;
}
