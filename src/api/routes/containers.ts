import { z } from 'zod';
import { parseSignal } from '../../core/units.js';
import type { Instance } from '../../core/instance.js';
import { parseTimeArg } from '../../core/timestamps.js';
import { readRecords } from '../../runtime/oci/logs.js';
import { CreateOptionsSchema } from '../../engine/create-options.js';
import { parsedBy, q, RefParams } from '../parse.js';
import type { ApiDeps } from '../server.js';
import type { Routes } from '../validation.js';
import { SizeQuery } from './exec.js';
import { followUntilExit, recordEncoder, startedStream } from './log-stream.js';
import { vmConsoleLog } from './vm-logs.js';
import { containerFilter, CONTAINER_FILTERS } from '../container-filter.js';
import { parseFilters } from '../filters.js';

export function summary(i: Instance) {
  return {
    id: i.id,
    name: i.name,
    type: i.type,
    ...(i.type === 'container' ? { isolation: i.config.isolation ?? 'container' } : {}),
    image: i.config.image,
    imageId: i.config.imageId,
    command: [...i.config.entrypoint, ...i.config.cmd].join(' '),
    createdAt: i.createdAt,
    status: i.state.status,
    exitCode: i.state.exitCode,
    startedAt: i.state.startedAt,
    finishedAt: i.state.finishedAt,
    stoppedByUser: i.state.stoppedByUser,
    ...(i.state.status === 'running' && i.state.health ? { health: i.state.health.status } : {}),
    ports: i.config.ports ?? [],
    labels: i.config.labels,
    networks: (i.config.networks ?? []).map((a) => ({ network: a.network, networkId: a.networkId, ipAddress: a.ipAddress, gateway: a.gateway, macAddress: a.macAddress, prefixLen: a.prefixLen, aliases: a.aliases })),
    mounts: (i.config.mounts ?? []).map((m) => ({ type: m.type, source: m.source, target: m.target, readOnly: m.readOnly, ...(m.driver ? { driver: m.driver } : {}), ...(m.propagation ? { propagation: m.propagation } : {}) })),
  };
}

/** The longest stop timeout: what a timer can wait (2^31 ms). */
const MAX_WAIT_S = 2_147_483;
/** `filters`: docker's JSON (api/filters.ts), checked against CONTAINER_FILTERS. */
const ListQuery = z.object({ all: q.bool(), filters: q.str() });
/** `ps_args`: options for the host's ps (engine/ps-rows.ts). */
const TopQuery = z.object({ ps_args: q.str() });
const RenameQuery = z.object({ name: q.required() });
const StopQuery = z.object({ t: q.int(10, 0, MAX_WAIT_S) });
const KillQuery = z.object({ signal: parsedBy(parseSignal).default('SIGKILL') });
const RemoveQuery = z.object({ force: q.bool(), v: q.bool() });
const WaitQuery = z.object({ condition: q.oneOf(['not-running', 'next-exit', 'removed'], 'not-running') });
const LogsQuery = z.object({
  follow: q.bool(),
  stdout: q.bool(true),
  stderr: q.bool(true),
  timestamps: q.bool(),
  /** Only the last N records; `all` (or absent) for every one. */
  tail: z
    .union([z.literal('all'), z.string().regex(/^\d{1,9}$/, 'expected all or a number of lines')])
    .optional()
    .transform((v) => (v === undefined || v === 'all' ? undefined : Number(v))),
  /** RFC 3339, Unix seconds, or a Go duration before now (core/timestamps.ts). */
  since: parsedBy((v) => parseTimeArg(v, 'since')).optional(),
  until: parsedBy((v) => parseTimeArg(v, 'until')).optional(),
});
const ArchiveQuery = z.object({ path: q.required() });
/** Reading out of a container may follow a symlink at `path` (cp -L). */
const ArchiveGetQuery = z.object({ path: q.required(), followLink: q.bool() });

const byRef = { params: RefParams };

export const containerRoutes =
  ({ engine, images }: ApiDeps): Routes =>
  async (app) => {
    app.post('/v1/containers', { schema: { body: CreateOptionsSchema } }, async (req, reply) => {
      const inst = await engine.create(req.body);
      return reply.status(201).send({ id: inst.id, name: inst.name });
    });

    // docker's filters; a status filter lists stopped ones too, as docker's does.
    app.get('/v1/containers', { schema: { querystring: ListQuery } }, async (req) => {
      const filters = parseFilters(req.query.filters, CONTAINER_FILTERS);
      const everyone = await engine.list(true);
      const keep = containerFilter(filters, everyone, filters.has('ancestor') ? await images.list() : []);
      const listed = req.query.all || filters.has('status') ? everyone : await engine.list(false);
      return listed.filter(keep).map(summary);
    });

    // A VM's record (and a VM-isolated container's) comes with what QEMU says: accelerator, pid, cgroup.
    app.get('/v1/containers/:ref', { schema: byRef }, async (req) => engine.inspect(req.params.ref));

    app.post('/v1/containers/:ref/start', { schema: byRef }, async (req) => summary(await engine.start(req.params.ref)));

    app.post('/v1/containers/:ref/stop', { schema: { ...byRef, querystring: StopQuery } }, async (req) => summary(await engine.stop(req.params.ref, req.query.t)));

    app.post('/v1/containers/:ref/restart', { schema: { ...byRef, querystring: StopQuery } }, async (req) => summary(await engine.restart(req.params.ref, req.query.t)));

    app.post('/v1/containers/:ref/kill', { schema: { ...byRef, querystring: KillQuery } }, async (req, reply) => {
      await engine.kill(req.params.ref, req.query.signal);
      return reply.status(204).send();
    });

    app.post('/v1/containers/:ref/pause', { schema: byRef }, async (req) => summary(await engine.pause(req.params.ref)));
    app.post('/v1/containers/:ref/unpause', { schema: byRef }, async (req) => summary(await engine.unpause(req.params.ref)));

    app.delete('/v1/containers/:ref', { schema: { ...byRef, querystring: RemoveQuery } }, async (req, reply) => {
      await engine.remove(req.params.ref, req.query.force, req.query.v);
      return reply.status(204).send();
    });

    app.post('/v1/containers/:ref/wait', { schema: { ...byRef, querystring: WaitQuery } }, async (req, reply) => {
      // A waiter whose client went away stops listening (a created container may never run).
      const gone = new AbortController();
      reply.raw.on('close', () => gone.abort());
      return engine.wait(req.params.ref, req.query.condition, gone.signal);
    });

    app.post('/v1/containers/:ref/resize', { schema: { ...byRef, querystring: SizeQuery } }, async (req, reply) => {
      await engine.resize(req.params.ref, req.query.h, req.query.w);
      return reply.status(204).send();
    });

    app.get('/v1/containers/:ref/stats', { schema: byRef }, async (req) => {
      const inst = await engine.get(req.params.ref);
      // A VM's (and a VM-isolated container's) memory is QEMU's resident set, its limit the guest's RAM: say so.
      const memoryCounted = inst.type === 'vm' || inst.config.isolation === 'vm' ? 'qemu-rss' : 'cgroup';
      return { id: inst.id, name: inst.name, read: new Date().toISOString(), memoryCounted, ...(await engine.stats(req.params.ref)) };
    });

    app.get('/v1/containers/:ref/top', { schema: { ...byRef, querystring: TopQuery } }, async (req) => {
      const psArgs = req.query.ps_args;
      if (!psArgs) return { processes: await engine.top(req.params.ref) };
      return { processes: [], ...(await engine.topPs(req.params.ref, psArgs.split(' '))) };
    });

    app.post('/v1/containers/:ref/rename', { schema: { ...byRef, querystring: RenameQuery } }, async (req) => summary(await engine.rename(req.params.ref, req.query.name)));

    app.get('/v1/containers/:ref/logs', { schema: { ...byRef, querystring: LogsQuery } }, async (req, reply) => {
      const q = req.query;
      const inst = await engine.get(req.params.ref);
      const { tail, since, until } = q;
      const follow = q.follow ? (await followUntilExit(engine, inst, (f) => reply.raw.on('close', f))).signal : undefined;
      if (inst.type === 'vm') {
        // A VM's log is its serial console: raw text, not records.
        reply.header('Content-Type', 'application/vnd.docker.raw-stream');
        return reply.send(await vmConsoleLog(engine.logPath(inst), { tail, since, until, follow }));
      }
      const tty = inst.config.tty;
      const encode = recordEncoder({ tty, timestamps: q.timestamps, stdout: q.stdout, stderr: q.stderr });
      const out = await startedStream(readRecords(engine.logPath(inst), { tail, since, until, follow }), encode);
      reply.header('Content-Type', tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
      return reply.send(out);
    });

    app.get('/v1/containers/:ref/archive', { schema: { ...byRef, querystring: ArchiveGetQuery } }, async (req, reply) => {
      const q = req.query;
      const stream = await engine.copyFrom(req.params.ref, q.path, { followLink: q.followLink });
      reply.header('Content-Type', 'application/x-tar');
      return reply.send(stream);
    });

    app.put('/v1/containers/:ref/archive', { schema: { ...byRef, querystring: ArchiveQuery } }, async (req, reply) => {
      const q = req.query;
      await engine.copyTo(req.params.ref, q.path, req.body as NodeJS.ReadableStream);
      return reply.status(204).send();
    });
  };
