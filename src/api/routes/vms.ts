import { z } from 'zod';
import { invalid } from '../../core/errors.js';
import { VmCreateSchema } from '../../engine/vm-options.js';
import { q, ref, RefParams } from '../parse.js';
import type { ApiDeps } from '../server.js';
import type { Routes } from '../validation.js';
import { summary } from './containers.js';

const SnapshotParams = z.object({ ref, name: ref }).strict();
const ListQuery = z.object({ all: q.bool() });
const RestoreQuery = z.object({ force: q.bool() });
/** Seconds, more than 0 (fractions allowed); at most what a timer can wait. */
const WaitQuery = z.object({
  timeout: z
    .string()
    .default('120')
    .transform((v, ctx) => {
      const t = /^\d{1,7}(\.\d+)?$/.test(v) ? Number(v) : NaN;
      if (t > 0 && t <= 2_147_483) return t;
      ctx.addIssue({ code: 'custom', message: `invalid timeout "${v}": seconds, more than 0` });
      return z.NEVER;
    }),
});
const ImportBody = z.object({ path: z.string().min(1), name: z.string().min(1), boot: z.enum(['hull', 'firmware']).optional() }).strict();
const UploadQuery = z.object({ name: q.required(), boot: z.enum(['hull', 'firmware']).optional(), size: q.optInt(0) });
const SnapshotBody = z.object({ name: z.string().min(1) }).strict();

/**
 * VM-only routes. A VM is an instance: start, stop, kill, pause, restart,
 * rm, logs, exec and attach (the serial console) are the /v1/containers/{ref}/…
 * routes, which take any instance. Here: create, list, inspect (with the
 * accelerator), snapshots, VM images. (VM-isolated containers are containers: /v1/containers.)
 */
export const vmRoutes =
  ({ engine }: ApiDeps): Routes =>
  async (app) => {
    app.post('/v1/vms', { schema: { body: VmCreateSchema } }, async (req, reply) => {
      const inst = await engine.createVm(req.body);
      return reply.status(201).send({ id: inst.id, name: inst.name });
    });
    app.get('/v1/vms', { schema: { querystring: ListQuery } }, async (req) => (await engine.list(req.query.all)).filter((i) => i.type === 'vm').map(summary));
    app.get('/v1/vms/:ref', { schema: { params: RefParams } }, async (req) => engine.inspectVm(req.params.ref));

    app.get('/v1/vms/:ref/snapshots', { schema: { params: RefParams } }, async (req) => engine.snapshotList(req.params.ref));
    app.post('/v1/vms/:ref/snapshots', { schema: { params: RefParams, body: SnapshotBody } }, async (req, reply) => {
      return reply.status(201).send(await engine.snapshotCreate(req.params.ref, req.body.name));
    });
    app.post('/v1/vms/:ref/snapshots/:name/restore', { schema: { params: SnapshotParams, querystring: RestoreQuery } }, async (req, reply) => {
      await engine.snapshotRestore(req.params.ref, req.params.name, req.query.force);
      return reply.status(204).send();
    });
    app.delete('/v1/vms/:ref/snapshots/:name', { schema: { params: SnapshotParams } }, async (req, reply) => {
      await engine.snapshotDelete(req.params.ref, req.params.name);
      return reply.status(204).send();
    });

    app.post('/v1/vms/:ref/wait-ready', { schema: { params: RefParams, querystring: WaitQuery } }, async (req, reply) => {
      await engine.waitVmReady(req.params.ref, req.query.timeout * 1000);
      return reply.status(204).send();
    });

    app.get('/v1/vm-images', async () => engine.vmImages().list());
    // An upload (as `docker load`): the body is the file's bytes; the daemon checks them as untrusted.
    app.post('/v1/vm-images', { schema: { querystring: UploadQuery } }, async (req, reply) => {
      const q = req.query;
      const body = req.body as NodeJS.ReadableStream | undefined;
      if (!body || typeof (body as { pipe?: unknown }).pipe !== 'function') throw invalid('send the image file as the request body, Content-Type: application/octet-stream');
      return reply.status(201).send(await engine.vmImages().importStream(body, { name: q.name, boot: q.boot, size: q.size }));
    });
    app.post('/v1/vm-images/import', { schema: { body: ImportBody } }, async (req, reply) => {
      const b = req.body;
      return reply.status(201).send(await engine.vmImages().importFile(b.path, { name: b.name, boot: b.boot }));
    });
    app.delete('/v1/vm-images/:ref', { schema: { params: RefParams } }, async (req, reply) => {
      await engine.vmImages().remove(req.params.ref);
      return reply.status(204).send();
    });
  };
