import { z } from 'zod';
import { wrongState } from '../../core/errors.js';
import { q, ref, RefParams } from '../parse.js';
import type { ApiDeps } from '../server.js';
import type { Routes } from '../validation.js';
import type { ExecSessions } from './exec-sessions.js';

/**
 * Exec sessions, as docker's: create one (POST /containers/{ref}/exec),
 * start it over an upgraded connection (POST /exec/{id}/start, in
 * container-streams.ts), resize it, and read its exit code afterwards
 * (GET /exec/{id}). The sessions themselves live in exec-sessions.ts.
 */
export const ExecBody = z
  .object({
    cmd: z.array(z.string()).min(1),
    env: z.array(z.string()).default([]),
    workingDir: z.string().default(''),
    user: z.string().default(''),
    tty: z.boolean().default(false),
    stdin: z.boolean().default(false),
    /** With tty: the caller's terminal size, set before the command starts. */
    consoleSize: z.object({ rows: z.number().int().min(0).max(65535), cols: z.number().int().min(0).max(65535) }).strict().optional(),
  })
  .strict();

export const IdParams = z.object({ id: ref }).strict();
/** A terminal's size: rows and columns (docker's h and w). */
export const SizeQuery = z.object({ h: q.int(24, 0, 65535), w: q.int(80, 0, 65535) });

export const execRoutes =
  ({ engine }: ApiDeps, sessions: ExecSessions): Routes =>
  async (app) => {
    app.post('/v1/containers/:ref/exec', { schema: { params: RefParams, body: ExecBody } }, async (req, reply) => {
      const inst = await engine.get(req.params.ref);
      if (inst.state.status !== 'running') throw wrongState(`${inst.type === 'vm' ? 'VM' : 'container'} ${inst.name} is not running`);
      const { id } = sessions.add(inst.id, req.body);
      engine.execEvent(inst, 'create', id, { cmd: req.body.cmd });
      return reply.status(201).send({ id });
    });

    app.get('/v1/exec/:id', { schema: { params: IdParams } }, async (req) => {
      const r = sessions.get(req.params.id);
      return { id: r.id, containerId: r.containerId, running: r.running, exitCode: r.exitCode, tty: r.opts.tty };
    });

    app.post('/v1/exec/:id/resize', { schema: { params: IdParams, querystring: SizeQuery } }, async (req, reply) => {
      const r = sessions.get(req.params.id);
      if (r.session) await r.session.resize(req.query.h, req.query.w);
      return reply.status(204).send();
    });
  };
