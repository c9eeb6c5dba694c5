import { intParam } from './exec.js';
import type { FastifyPluginAsync } from 'fastify';
import { Readable } from 'node:stream';
import { invalid } from '../../core/errors.js';
import { parseSignal } from '../../core/units.js';
import type { Instance } from '../../core/instance.js';
import { followLog, readLog, type LogRecord } from '../../runtime/oci/logs.js';
import type { ApiDeps } from '../server.js';
import { muxFrame } from '../streams.js';
import { vmConsoleLog } from './vm-logs.js';

export function summary(i: Instance) {
  return {
    id: i.id,
    name: i.name,
    type: i.type,
    ...(i.type === 'container' ? { isolation: i.config.isolation ?? 'container' } : {}),
    image: i.config.image,
    command: [...i.config.entrypoint, ...i.config.cmd].join(' '),
    createdAt: i.createdAt,
    status: i.state.status,
    exitCode: i.state.exitCode,
    startedAt: i.state.startedAt,
    finishedAt: i.state.finishedAt,
    ports: i.config.ports ?? [],
  };
}

const bool = (v: unknown) => v === '1' || v === 'true' || v === true;
const int = intParam;

export const containerRoutes =
  ({ engine }: ApiDeps): FastifyPluginAsync =>
  async (app) => {
    app.post('/v1/containers', async (req, reply) => {
      const inst = await engine.create(req.body as never);
      return reply.status(201).send({ id: inst.id, name: inst.name });
    });

    app.get('/v1/containers', async (req) => {
      const q = req.query as Record<string, string>;
      return (await engine.list(bool(q.all))).map(summary);
    });

    app.get('/v1/containers/:ref', async (req) => {
      // A VM's record (and a VM-isolated container's) comes with what QEMU says: accelerator, pid, cgroup.
      return engine.inspect((req.params as { ref: string }).ref);
    });

    app.post('/v1/containers/:ref/start', async (req) => summary(await engine.start((req.params as { ref: string }).ref)));

    app.post('/v1/containers/:ref/stop', async (req) => {
      const q = req.query as Record<string, string>;
      return summary(await engine.stop((req.params as { ref: string }).ref, int(q.t, 10)));
    });

    app.post('/v1/containers/:ref/restart', async (req) => {
      const q = req.query as Record<string, string>;
      return summary(await engine.restart((req.params as { ref: string }).ref, int(q.t, 10)));
    });

    app.post('/v1/containers/:ref/kill', async (req, reply) => {
      const q = req.query as Record<string, string>;
      await engine.kill((req.params as { ref: string }).ref, parseSignal(q.signal ?? 'SIGKILL'));
      return reply.status(204).send();
    });

    app.post('/v1/containers/:ref/pause', async (req) => summary(await engine.pause((req.params as { ref: string }).ref)));
    app.post('/v1/containers/:ref/unpause', async (req) => summary(await engine.unpause((req.params as { ref: string }).ref)));

    app.delete('/v1/containers/:ref', async (req, reply) => {
      const q = req.query as Record<string, string>;
      await engine.remove((req.params as { ref: string }).ref, bool(q.force));
      return reply.status(204).send();
    });

    app.post('/v1/containers/:ref/wait', async (req, reply) => {
      const q = req.query as Record<string, string>;
      const cond = q.condition === 'next-exit' || q.condition === 'removed' ? q.condition : 'not-running';
      const gone = new AbortController();
      reply.raw.on('close', () => gone.abort());
      return engine.wait((req.params as { ref: string }).ref, cond, gone.signal);
    });

    app.post('/v1/containers/:ref/resize', async (req, reply) => {
      const q = req.query as Record<string, string>;
      await engine.resize((req.params as { ref: string }).ref, int(q.h, 24), int(q.w, 80));
      return reply.status(204).send();
    });

    app.get('/v1/containers/:ref/stats', async (req) => {
      const ref = (req.params as { ref: string }).ref;
      const inst = await engine.get(ref);
      return { id: inst.id, name: inst.name, read: new Date().toISOString(), ...(await engine.stats(ref)) };
    });

    app.get('/v1/containers/:ref/top', async (req) => ({ processes: await engine.top((req.params as { ref: string }).ref) }));

    app.get('/v1/containers/:ref/logs', async (req, reply) => {
      const q = req.query as Record<string, string>;
      const inst = await engine.get((req.params as { ref: string }).ref);
      if (inst.type === 'vm') {
        // A VM's log is its serial console: raw text, not records.
        reply.header('Content-Type', 'application/vnd.docker.raw-stream');
        return reply.send(vmConsoleLog(engine, inst, bool(q.follow), (f) => req.raw.on('close', f)));
      }
      const tail = q.tail === undefined || q.tail === 'all' ? undefined : int(q.tail, -1);
      const wantOut = q.stdout === undefined || bool(q.stdout);
      const wantErr = q.stderr === undefined || bool(q.stderr);
      const ts = bool(q.timestamps);
      const tty = inst.config.tty;
      const encode = (r: LogRecord): Buffer | undefined => {
        if ((r.stream === 'stdout' && !wantOut) || (r.stream === 'stderr' && !wantErr)) return undefined;
        const data = Buffer.from(ts ? `${r.time} ${r.data}` : r.data);
        return tty ? data : muxFrame(r.stream === 'stderr' ? 2 : 1, data);
      };
      const path = engine.logPath(inst);
      const { records, offset } = await readLog(path, { tail, since: q.since });
      const out = new Readable({ read() {} });
      for (const r of records) {
        const b = encode(r);
        if (b) out.push(b);
      }
      const live = inst.state.status === 'running' || inst.state.status === 'paused' || inst.state.status === 'created';
      if (!bool(q.follow) || !live) {
        out.push(null);
      } else {
        const f = followLog(path, offset, (r) => {
          const b = encode(r);
          if (b) out.push(b);
        });
        const end = async () => {
          engine.events.off(`exit:${inst.id}`, end);
          await f.stop();
          out.push(null);
        };
        engine.events.once(`exit:${inst.id}`, end);
        req.raw.on('close', () => void end());
      }
      reply.header('Content-Type', tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
      return reply.send(out);
    });

    app.get('/v1/containers/:ref/archive', async (req, reply) => {
      const q = req.query as Record<string, string>;
      if (!q.path) throw invalid('path is required');
      const stream = await engine.copyFrom((req.params as { ref: string }).ref, q.path, { followLink: bool(q.followLink) });
      reply.header('Content-Type', 'application/x-tar');
      return reply.send(stream);
    });

    app.put('/v1/containers/:ref/archive', async (req, reply) => {
      const q = req.query as Record<string, string>;
      if (!q.path) throw invalid('path is required');
      await engine.copyTo((req.params as { ref: string }).ref, q.path, req.body as NodeJS.ReadableStream);
      return reply.status(204).send();
    });
  };
