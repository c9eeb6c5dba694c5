import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { invalid, notFound, wrongState } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { ExecOptions, ExecSession } from '../../runtime/driver.js';
import type { ApiDeps } from '../server.js';

/**
 * Exec sessions, as docker's: create one (POST /containers/{ref}/exec),
 * start it over an upgraded connection (POST /exec/{id}/start), resize it,
 * and read its exit code afterwards (GET /exec/{id}). Kept in memory: an exec
 * belongs to the client session that made it.
 */
export interface ExecRecord {
  id: string;
  containerId: string;
  opts: ExecOptions;
  session?: ExecSession;
  running: boolean;
  exitCode: number | null;
}

export class ExecSessions {
  private m = new Map<string, ExecRecord>();
  add(r: ExecRecord) {
    this.m.set(r.id, r);
  }
  get(id: string): ExecRecord {
    const r = this.m.get(id);
    if (!r) throw notFound(`exec session ${id}`);
    return r;
  }
  /** Forget a finished session after a while, so its exit code can still be read. */
  expire(id: string) {
    setTimeout(() => this.m.delete(id), 5 * 60_000).unref();
  }
}

export const ExecBody = z
  .object({
    cmd: z.array(z.string()).min(1),
    env: z.array(z.string()).default([]),
    workingDir: z.string().default(''),
    user: z.string().default(''),
    tty: z.boolean().default(false),
    stdin: z.boolean().default(false),
  })
  .strict();

export function intParam(v: unknown, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n)) throw invalid(`expected an integer, got "${v}"`);
  return n;
}

export const execRoutes =
  ({ engine }: ApiDeps, sessions: ExecSessions): FastifyPluginAsync =>
  async (app) => {
    app.post('/v1/containers/:ref/exec', async (req, reply) => {
      const parsed = ExecBody.safeParse(req.body ?? {});
      if (!parsed.success) throw invalid(`invalid exec request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const inst = await engine.get((req.params as { ref: string }).ref);
      if (inst.state.status !== 'running') throw wrongState(`${inst.type === 'vm' ? 'VM' : 'container'} ${inst.name} is not running`);
      const id = newId();
      sessions.add({ id, containerId: inst.id, opts: parsed.data, running: false, exitCode: null });
      return reply.status(201).send({ id });
    });

    app.get('/v1/exec/:id', async (req) => {
      const r = sessions.get((req.params as { id: string }).id);
      return { id: r.id, containerId: r.containerId, running: r.running, exitCode: r.exitCode, tty: r.opts.tty };
    });

    app.post('/v1/exec/:id/resize', async (req, reply) => {
      const q = req.query as Record<string, string>;
      const r = sessions.get((req.params as { id: string }).id);
      if (r.session) await r.session.resize(intParam(q.h, 24), intParam(q.w, 80));
      return reply.status(204).send();
    });
  };
