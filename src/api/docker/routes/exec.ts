import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { DockerError, dockerErrorResponse, orNoSuch } from '../errors.js';
import { consoleSize, execExtras, startExec } from '../exec-start.js';
import { plainAnswer, runStream } from '../hijack.js';
import { container } from '../lookup.js';
import { dockerBody, nullable, qInt, type RawQuery } from '../query.js';
import type { DockerCtx } from '../server.js';

const CreateBody = z
  .object({
    AttachStdin: nullable(z.boolean()),
    AttachStdout: nullable(z.boolean()),
    AttachStderr: nullable(z.boolean()),
    DetachKeys: nullable(z.string()),
    Tty: nullable(z.boolean()),
    Env: nullable(z.array(z.string())),
    Cmd: z.array(z.string(), { error: 'Cmd is required' }).min(1, 'No exec command specified'),
    Privileged: nullable(z.boolean()),
    User: nullable(z.string()),
    WorkingDir: nullable(z.string()),
    ConsoleSize: nullable(z.array(z.number().int().min(0).max(65535)).length(2)),
  })
  .loose();

type P = { id: string };

/** Exec sessions: create, start (unless upgraded: upgrade.ts), resize, inspect. */
export const execRoutes =
  (ctx: DockerCtx): FastifyPluginAsync =>
  async (app) => {
    const { engine } = ctx;

    app.post('/containers/:id/exec', async (req, reply) => {
      const b = dockerBody(CreateBody, req.body, 'exec create request');
      const inst = await container(engine, (req.params as P).id);
      if (inst.state.status !== 'running') throw new DockerError(409, `container ${inst.id} is not running`);
      if (b.Privileged) throw new DockerError(501, 'privileged exec is not supported by Hull');
      const opts = { cmd: b.Cmd, env: b.Env ?? [], workingDir: b.WorkingDir ?? '', user: b.User ?? '', tty: b.Tty ?? false, stdin: b.AttachStdin ?? false, ...consoleSize(b.ConsoleSize) };
      const rec = ctx.execs.add(inst.id, opts);
      execExtras.set(rec, { attachStdout: b.AttachStdout ?? true, attachStderr: b.AttachStderr ?? true, detachKeys: b.DetachKeys || undefined, pid: 0 });
      engine.execEvent(inst, 'create', rec.id, { cmd: b.Cmd });
      return reply.status(201).send({ Id: rec.id });
    });

    /** Without `Upgrade: tcp`: the stream is the hijacked response (or, detached, an empty one). */
    app.post('/exec/:id/start', async (req, reply) => {
      const id = (req.params as P).id;
      await orNoSuch('exec instance', id, async () => ctx.execs.get(id));
      reply.hijack();
      const socket = req.raw.socket;
      await runStream(socket, plainAnswer(socket), (answer) => startExec(ctx, id, req.body, socket, answer), dockerErrorResponse);
    });

    app.post('/exec/:id/resize', async (req, reply) => {
      const q = req.query as RawQuery;
      const id = (req.params as P).id;
      const rec = await orNoSuch('exec instance', id, async () => ctx.execs.get(id));
      if (rec.session) await rec.session.resize(qInt(q, 'h', 24), qInt(q, 'w', 80));
      return reply.status(200).send();
    });

    app.get('/exec/:id/json', async (req) => {
      const id = (req.params as P).id;
      const r = await orNoSuch('exec instance', id, async () => ctx.execs.get(id));
      const x = execExtras.get(r);
      return {
        ID: r.id,
        Running: r.running,
        ExitCode: r.exitCode,
        ProcessConfig: { tty: r.opts.tty, entrypoint: r.opts.cmd[0], arguments: r.opts.cmd.slice(1), privileged: false, user: r.opts.user },
        OpenStdin: r.opts.stdin,
        OpenStderr: x?.attachStderr ?? true,
        OpenStdout: x?.attachStdout ?? true,
        CanRemove: false,
        ContainerID: r.containerId,
        DetachKeys: x?.detachKeys ?? '',
        Pid: x?.pid ?? 0,
      };
    });
  };
