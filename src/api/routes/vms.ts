import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { invalid } from '../../core/errors.js';
import type { ApiDeps } from '../server.js';
import { summary } from './containers.js';

const bool = (v: unknown) => v === '1' || v === 'true' || v === true;
type P = { ref: string; name: string };

const ImportBody = z.object({ path: z.string().min(1), name: z.string().min(1), boot: z.enum(['hull', 'firmware']).optional() }).strict();
const UploadQuery = z
  .object({ name: z.string().min(1), boot: z.enum(['hull', 'firmware']).optional(), size: z.coerce.number().int().nonnegative().optional() })
  .strict();
const SnapshotBody = z.object({ name: z.string().min(1) }).strict();

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw invalid(`invalid ${what} request: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/**
 * VM-only routes. A VM is an instance: start, stop, kill, pause, restart,
 * rm, logs, exec and attach (the serial console) are the /v1/containers/{ref}/…
 * routes, which take any instance. Here: create, list, inspect (with the
 * accelerator), snapshots, VM images. (VM-isolated containers are containers: /v1/containers.)
 */
export const vmRoutes =
  ({ engine }: ApiDeps): FastifyPluginAsync =>
  async (app) => {
    app.post('/v1/vms', async (req, reply) => {
      const inst = await engine.createVm(req.body as never);
      return reply.status(201).send({ id: inst.id, name: inst.name });
    });
    app.get('/v1/vms', async (req) => {
      const q = req.query as Record<string, string>;
      return (await engine.list(bool(q.all))).filter((i) => i.type === 'vm').map(summary);
    });
    app.get('/v1/vms/:ref', async (req) => engine.inspectVm((req.params as P).ref));

    app.get('/v1/vms/:ref/snapshots', async (req) => engine.snapshotList((req.params as P).ref));
    app.post('/v1/vms/:ref/snapshots', async (req, reply) => {
      const { name } = parse(SnapshotBody, req.body, 'snapshot');
      return reply.status(201).send(await engine.snapshotCreate((req.params as P).ref, name));
    });
    app.post('/v1/vms/:ref/snapshots/:name/restore', async (req, reply) => {
      const p = req.params as P;
      await engine.snapshotRestore(p.ref, p.name, bool((req.query as Record<string, string>).force));
      return reply.status(204).send();
    });
    app.delete('/v1/vms/:ref/snapshots/:name', async (req, reply) => {
      const p = req.params as P;
      await engine.snapshotDelete(p.ref, p.name);
      return reply.status(204).send();
    });

    app.post('/v1/vms/:ref/wait-ready', async (req, reply) => {
      const t = Number((req.query as Record<string, string>).timeout ?? 120);
      if (!Number.isFinite(t) || t <= 0) throw invalid(`invalid timeout "${String((req.query as Record<string, string>).timeout)}": seconds, more than 0`);
      await engine.waitVmReady((req.params as P).ref, t * 1000);
      return reply.status(204).send();
    });

    app.get('/v1/vm-images', async () => engine.vmImages().list());
    // An upload (as `docker load`): the body is the file's bytes; the daemon checks them as untrusted.
    app.post('/v1/vm-images', async (req, reply) => {
      const q = parse(UploadQuery, req.query, 'VM image upload');
      const body = req.body as NodeJS.ReadableStream | undefined;
      if (!body || typeof (body as { pipe?: unknown }).pipe !== 'function') throw invalid('send the image file as the request body, Content-Type: application/octet-stream');
      return reply.status(201).send(await engine.vmImages().importStream(body, { name: q.name, boot: q.boot, size: q.size }));
    });
    app.post('/v1/vm-images/import', async (req, reply) => {
      const b = parse(ImportBody, req.body, 'VM image import');
      return reply.status(201).send(await engine.vmImages().importFile(b.path, { name: b.name, boot: b.boot }));
    });
    app.delete('/v1/vm-images/:ref', async (req, reply) => {
      await engine.vmImages().remove((req.params as P).ref);
      return reply.status(204).send();
    });
  };

