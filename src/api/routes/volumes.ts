import type { FastifyPluginAsync } from 'fastify';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { invalid } from '../../core/errors.js';
import type { Volume } from '../../core/volume.js';
import type { ApiDeps } from '../server.js';

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
const DiskBody = z.object({ volume: z.string().min(1) }).strict();
const ImportQuery = z.object({ name: z.string().min(1) }).strict();
const PruneQuery = z.object({ all: z.enum(['0', '1', 'true', 'false']).optional() }).strict();
type P = { ref: string; name: string; volume: string };

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw invalid(`invalid ${what} request: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

export function volumeSummary(v: Volume) {
  return { id: v.id, name: v.name, driver: v.driver, sizeBytes: v.sizeBytes, anonymous: v.anonymous, labels: v.labels, createdAt: v.createdAt };
}

/** Volumes (`hull volume …`) and a VM's disks (`hull vm disk …`). */
export const volumeRoutes =
  ({ engine }: ApiDeps): FastifyPluginAsync =>
  async (app) => {
    const vols = () => engine.volumes.store();
    app.post('/v1/volumes', async (req, reply) => reply.status(201).send(volumeSummary(await vols().create(parse(CreateBody, req.body, 'volume create')))));
    app.get('/v1/volumes', async () => (await vols().list()).map(volumeSummary));
    app.post('/v1/volumes/prune', async (req) => {
      const q = parse(PruneQuery, req.query, 'volume prune');
      return { deleted: await vols().prune(q.all === '1' || q.all === 'true') };
    });
    app.post('/v1/volumes/import', async (req, reply) => {
      const { name } = parse(ImportQuery, req.query, 'volume import');
      const body = req.body as Readable | undefined;
      if (!body || typeof body.pipe !== 'function') throw invalid('send the export (a tar stream) as the request body, Content-Type: application/x-tar');
      return reply.status(201).send(volumeSummary(await vols().import(name, body)));
    });
    app.get('/v1/volumes/:ref', async (req) => vols().inspect((req.params as P).ref));
    app.delete('/v1/volumes/:ref', async (req, reply) => {
      await vols().remove((req.params as P).ref);
      return reply.status(204).send();
    });
    app.get('/v1/volumes/:ref/export', async (req, reply) => {
      const stream = await vols().export(await vols().get((req.params as P).ref));
      reply.header('Content-Type', 'application/x-tar');
      return reply.send(stream);
    });

    app.get('/v1/volumes/:ref/snapshots', async (req) => vols().snapshotList(await vols().get((req.params as P).ref)));
    app.post('/v1/volumes/:ref/snapshots', async (req, reply) => {
      const { name } = parse(SnapshotBody, req.body, 'snapshot');
      await engine.volumes.snapshotCreate((req.params as P).ref, name);
      return reply.status(201).send({ name });
    });
    app.post('/v1/volumes/:ref/snapshots/:name/restore', async (req, reply) => {
      const p = req.params as P;
      await vols().snapshotRestore(await vols().get(p.ref), p.name);
      return reply.status(204).send();
    });
    app.delete('/v1/volumes/:ref/snapshots/:name', async (req, reply) => {
      const p = req.params as P;
      await engine.volumes.snapshotDelete(p.ref, p.name);
      return reply.status(204).send();
    });

    app.get('/v1/vms/:ref/disks', async (req) => engine.volumes.disks((req.params as P).ref));
    app.post('/v1/vms/:ref/disks', async (req) => engine.volumes.attach((req.params as P).ref, parse(DiskBody, req.body, 'disk attach').volume));
    app.delete('/v1/vms/:ref/disks/:volume', async (req) => {
      const p = req.params as P;
      return engine.volumes.detach(p.ref, p.volume);
    });
  };
