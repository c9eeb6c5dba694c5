import { z } from 'zod';
import type { Readable } from 'node:stream';
import { invalid } from '../../core/errors.js';
import type { Volume } from '../../core/volume.js';
import { q, ref, RefParams } from '../parse.js';
import type { ApiDeps } from '../server.js';
import type { Routes } from '../validation.js';

const CreateBody = z
  .object({
    name: z.string().min(1).optional(),
    driver: z.enum(['local', 'block']).default('local'),
    labels: z.record(z.string(), z.string()).default({}),
    options: z.record(z.string(), z.string()).default({}),
    sizeBytes: z.number().int().positive().optional(),
  })
  .strict();
const SnapshotBody = z.object({ name: z.string().min(1) }).strict();
const SnapshotParams = z.object({ ref, name: ref }).strict();
const DiskBody = z.object({ volume: z.string().min(1) }).strict();
const DiskParams = z.object({ ref, volume: ref }).strict();
const ImportQuery = z.object({ name: q.required() });
const PruneQuery = z.object({ all: q.bool() });

export function volumeSummary(v: Volume) {
  return { id: v.id, name: v.name, driver: v.driver, sizeBytes: v.sizeBytes, anonymous: v.anonymous, labels: v.labels, createdAt: v.createdAt };
}

/** Volumes (`hull volume …`) and a VM's disks (`hull vm disk …`). */
export const volumeRoutes =
  ({ engine }: ApiDeps): Routes =>
  async (app) => {
    const vols = () => engine.volumes.store();
    app.post('/v1/volumes', { schema: { body: CreateBody } }, async (req, reply) => reply.status(201).send(volumeSummary(await vols().create(req.body))));
    app.get('/v1/volumes', async () => (await vols().list()).map(volumeSummary));
    app.post('/v1/volumes/prune', { schema: { querystring: PruneQuery } }, async (req) => ({ deleted: await vols().prune(req.query.all) }));
    // An upload: the body is an export's tar stream (from this host or another).
    app.post('/v1/volumes/import', { schema: { querystring: ImportQuery } }, async (req, reply) => {
      const body = req.body as Readable | undefined;
      if (!body || typeof body.pipe !== 'function') throw invalid('send the export (a tar stream) as the request body, Content-Type: application/x-tar');
      return reply.status(201).send(volumeSummary(await vols().import(req.query.name, body)));
    });
    app.get('/v1/volumes/:ref', { schema: { params: RefParams } }, async (req) => vols().inspect(req.params.ref));
    app.delete('/v1/volumes/:ref', { schema: { params: RefParams } }, async (req, reply) => {
      await vols().remove(req.params.ref);
      return reply.status(204).send();
    });
    app.get('/v1/volumes/:ref/export', { schema: { params: RefParams } }, async (req, reply) => {
      const stream = await vols().export(await vols().get(req.params.ref));
      reply.header('Content-Type', 'application/x-tar');
      return reply.send(stream);
    });

    app.get('/v1/volumes/:ref/snapshots', { schema: { params: RefParams } }, async (req) => vols().snapshotList(await vols().get(req.params.ref)));
    app.post('/v1/volumes/:ref/snapshots', { schema: { params: RefParams, body: SnapshotBody } }, async (req, reply) => {
      await engine.volumes.snapshotCreate(req.params.ref, req.body.name);
      return reply.status(201).send({ name: req.body.name });
    });
    app.post('/v1/volumes/:ref/snapshots/:name/restore', { schema: { params: SnapshotParams } }, async (req, reply) => {
      await vols().snapshotRestore(await vols().get(req.params.ref), req.params.name);
      return reply.status(204).send();
    });
    app.delete('/v1/volumes/:ref/snapshots/:name', { schema: { params: SnapshotParams } }, async (req, reply) => {
      await engine.volumes.snapshotDelete(req.params.ref, req.params.name);
      return reply.status(204).send();
    });

    app.get('/v1/vms/:ref/disks', { schema: { params: RefParams } }, async (req) => engine.volumes.disks(req.params.ref));
    app.post('/v1/vms/:ref/disks', { schema: { params: RefParams, body: DiskBody } }, async (req) => engine.volumes.attach(req.params.ref, req.body.volume));
    app.delete('/v1/vms/:ref/disks/:volume', { schema: { params: DiskParams } }, async (req) => engine.volumes.detach(req.params.ref, req.params.volume));
  };
