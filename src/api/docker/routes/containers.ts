import type { FastifyPluginAsync } from 'fastify';
import { isHullError } from '../../../core/errors.js';
import { parseSignal } from '../../../core/units.js';
import { containerFilter, CONTAINER_FILTERS } from '../../container-filter.js';
import { anyOf, parseFilters } from '../../filters.js';
import type { Instance } from '../../../core/instance.js';
import type { Volume } from '../../../core/volume.js';
import { apiVersion } from '../api-version.js';
import { DockerError, orNoSuch } from '../errors.js';
import { container, containers, isLive } from '../lookup.js';
import { allLabels, dockerBody, qBool, qInt, qStr, type RawQuery } from '../query.js';
import type { DockerCtx } from '../server.js';
import { containerInspect, containerSummary, healthOf } from '../translate/container.js';
import { CreateBodySchema, translateCreate } from '../translate/create.js';
import { volumeLookup } from '../translate/mounts.js';
import { translateUpdate, UpdateBodySchema } from '../translate/update.js';

type P = { id: string };
const MAX_WAIT_S = 2_147_483;

/** Containers: list, create, inspect, the lifecycle verbs, rename, update, prune, wait. */
export const containerRoutes =
  (ctx: DockerCtx): FastifyPluginAsync =>
  async (app) => {
    const { engine, images } = ctx;

    app.get('/containers/json', async (req) => {
      const q = req.query as RawQuery;
      const limit = qInt(q, 'limit', -1);
      const f = parseFilters(qStr(q, 'filters'), [...CONTAINER_FILTERS, 'health', 'volume']);
      const all = await containers(engine, true);
      const wantAll = qBool(q, 'all') || limit > 0 || f.has('status') || f.has('exited');
      // health and volume are the socket's own; the rest (labels too) are Hull's ps filters.
      const own = new Map([...f].filter(([k]) => k === 'health' || k === 'volume'));
      for (const k of own.keys()) f.delete(k);
      const keep = containerFilter(f, all, await images.list());
      const vols = own.has('volume') ? await engine.volumes.store().list() : [];
      const rows = all.filter((i) => (wantAll || isLive(i)) && ownFilters(own, i, vols) && keep(i));
      const shown = limit > 0 ? rows.slice(0, limit) : rows;
      const volume = await volumeLookup(engine.volumes.store(), shown);
      return shown.map((i) => containerSummary(i, volume));
    });

    app.post('/containers/create', async (req, reply) => {
      const q = req.query as RawQuery;
      const name = qStr(q, 'name');
      const body = dockerBody(CreateBodySchema, req.body, 'container create request');
      // A missing image is the 404 that makes docker's CLI pull it; anything else missing (a network) is a bad request.
      const image = await orNoSuch('image', body.Image, () => images.resolve(body.Image));
      const t = translateCreate(body, name ? name.replace(/^\//, '') : undefined, image.config.Healthcheck, apiVersion(req.raw));
      const inst = await engine.create(t.options).catch((e: unknown) => {
        if (isHullError(e, 'not_found')) throw new DockerError(400, e.message);
        if (isHullError(e, 'conflict') && name && e.message.includes('the name')) {
          throw new DockerError(409, `Conflict. The container name "/${name.replace(/^\//, '')}" is already in use. You have to remove (or rename) that container to be able to reuse that name.`);
        }
        throw e;
      });
      try {
        for (const n of t.later) await engine.connect(inst.id, n.network, { aliases: n.aliases, ip: n.ip });
      } catch (e) {
        await engine.remove(inst.id, true).catch(() => undefined);
        throw e;
      }
      const size = body.HostConfig?.ConsoleSize;
      if (inst.config.tty && size && size[0] > 0 && size[1] > 0) ctx.consoleSizes.set(inst.id, [size[0], size[1]]);
      return reply.status(201).send({ Id: inst.id, Warnings: t.warnings });
    });

    app.get('/containers/:id/json', async (req) => {
      const inst = await container(engine, (req.params as P).id);
      const image = await images.resolve(inst.config.imageId).catch(() => undefined);
      return containerInspect(inst, { image, logPath: engine.logPath(inst), volume: await volumeLookup(engine.volumes.store(), [inst]) });
    });

    app.post('/containers/:id/start', async (req, reply) => {
      const inst = await container(engine, (req.params as P).id);
      if (isLive(inst)) return reply.status(304).send();
      await engine.start(inst.id);
      return reply.status(204).send();
    });

    app.post('/containers/:id/stop', async (req, reply) => {
      const q = req.query as RawQuery;
      const inst = await container(engine, (req.params as P).id);
      if (!isLive(inst)) return reply.status(304).send();
      await stopWith(ctx, inst.id, qStr(q, 'signal'), timeout(q));
      return reply.status(204).send();
    });

    app.post('/containers/:id/restart', async (req, reply) => {
      const q = req.query as RawQuery;
      const inst = await container(engine, (req.params as P).id);
      if (qStr(q, 'signal')) await stopWith(ctx, inst.id, qStr(q, 'signal'), timeout(q));
      await engine.restart(inst.id, timeout(q));
      return reply.status(204).send();
    });

    app.post('/containers/:id/kill', async (req, reply) => {
      const q = req.query as RawQuery;
      const inst = await container(engine, (req.params as P).id);
      const signal = parseSignal(qStr(q, 'signal') || 'SIGKILL');
      if (!isLive(inst)) throw new DockerError(409, `Cannot kill container: ${(req.params as P).id}: container ${inst.id} is not running`);
      await engine.kill(inst.id, signal);
      return reply.status(204).send();
    });

    for (const verb of ['pause', 'unpause'] as const) {
      app.post(`/containers/:id/${verb}`, async (req, reply) => {
        const inst = await container(engine, (req.params as P).id);
        await engine[verb](inst.id);
        return reply.status(204).send();
      });
    }

    app.delete('/containers/:id', async (req, reply) => {
      const q = req.query as RawQuery;
      const inst = await container(engine, (req.params as P).id);
      if (qBool(q, 'link')) throw new DockerError(501, 'links are not supported by Hull');
      if (isLive(inst) && !qBool(q, 'force')) {
        throw new DockerError(409, `cannot remove container "/${inst.name}": container is ${inst.state.status}: stop the container before removing or force remove`);
      }
      // v=1 (docker rm -v): the container's anonymous volumes go with it.
      await engine.remove(inst.id, qBool(q, 'force'), qBool(q, 'v'));
      return reply.status(204).send();
    });

    app.post('/containers/:id/wait', async (req, reply) => {
      const q = req.query as RawQuery;
      const cond = qStr(q, 'condition') || 'not-running';
      if (!['not-running', 'next-exit', 'removed'].includes(cond)) throw new DockerError(400, `invalid condition: "${cond.slice(0, 64)}"`);
      const inst = await container(engine, (req.params as P).id);
      const gone = new AbortController();
      const waiting = engine.wait(inst.id, cond as 'not-running', gone.signal);
      // The waiter is registered before the headers go: a client (docker run) starts the container once it has them.
      await new Promise((r) => setImmediate(r));
      reply.hijack();
      reply.raw.writeHead(200, { 'Content-Type': 'application/json' });
      reply.raw.flushHeaders();
      req.raw.socket.once('close', () => gone.abort());
      const r = await waiting;
      // A start that failed is answered by the start; the CLI would say it twice (`removed` is docker run --rm's wait).
      const error = r.error && cond !== 'removed' ? { Error: { Message: r.error } } : {};
      reply.raw.end(JSON.stringify({ StatusCode: r.exitCode, ...error }));
    });

    app.post('/containers/prune', async (req) => {
      const f = parseFilters(qStr(req.query as RawQuery, 'filters'), ['label', 'until']);
      const until = f.get('until')?.[0];
      const cutoff = until === undefined ? Infinity : /^\d+$/.test(until) ? Number(until) * 1000 : Date.parse(until);
      const gone: string[] = [];
      for (const i of await containers(engine, true)) {
        if (isLive(i) || !allLabels(f, i.config.labels) || Date.parse(i.createdAt) >= cutoff) continue;
        await engine.remove(i.id).then(() => gone.push(i.id)).catch(() => undefined);
      }
      return { ContainersDeleted: gone, SpaceReclaimed: 0 };
    });

    app.post('/containers/:id/rename', async (req, reply) => {
      const name = (qStr(req.query as RawQuery, 'name') ?? '').replace(/^\//, '');
      if (!name) throw new DockerError(400, 'name is required');
      const inst = await container(engine, (req.params as P).id);
      await engine.rename(inst.id, name).catch((e: unknown) => {
        if (isHullError(e, 'conflict')) throw new DockerError(409, `Conflict. The container name "/${name}" is already in use. You have to remove (or rename) that container to be able to reuse that name.`);
        throw e;
      });
      return reply.status(204).send();
    });

    app.post('/containers/:id/update', async (req) => {
      const b = dockerBody(UpdateBodySchema, req.body, 'container update request');
      const inst = await container(engine, (req.params as P).id);
      const { resources, restartPolicy, warnings } = translateUpdate(b);
      const next = await engine.update(inst.id, { resources, ...(restartPolicy ? { restartPolicy } : {}) });
      engine.eventLog.publish('container', 'update', next.id, { ...next.config.labels, image: next.config.image, name: next.name });
      return { Warnings: warnings };
    });
  };

/** `health=starting|healthy|unhealthy|none` and `volume=NAME|/path`, which Hull's filter does not have. */
function ownFilters(f: Map<string, string[]>, i: Instance, vols: Volume[]): boolean {
  const health = healthOf(i)?.Status ?? 'none';
  const mounts = i.config.mounts ?? [];
  const named = (v: string) => mounts.some((m) => m.target === v || m.source === v || (m.volumeId && vols.find((x) => x.id === m.volumeId)?.name === v));
  return anyOf(f, 'health', (v) => v === health) && anyOf(f, 'volume', named);
}

/** docker's `t`: seconds to wait before SIGKILL (absent: 10; -1: for ever, which Hull caps). */
function timeout(q: RawQuery): number {
  const t = qInt(q, 't', 10);
  return t < 0 ? MAX_WAIT_S : Math.min(t, MAX_WAIT_S);
}

/** `stop --signal`: that signal first, then the usual stop (SIGKILL after the timeout). */
async function stopWith(ctx: DockerCtx, id: string, signal: string | undefined, t: number): Promise<void> {
  if (signal && parseSignal(signal) !== 'SIGTERM') {
    await ctx.engine.kill(id, parseSignal(signal)).catch(() => undefined);
    const timer = new AbortController();
    const waited = ctx.engine.wait(id, 'not-running', timer.signal);
    const t0 = setTimeout(() => timer.abort(), t * 1000);
    await waited;
    clearTimeout(t0);
  }
  await ctx.engine.stop(id, t);
}
