import { z } from 'zod';
import { isAbsolute } from 'node:path';
import { invalid } from '../../core/errors.js';
import type { Image } from '../../core/image.js';
import type { Instance } from '../../core/instance.js';
import { q, RefParams } from '../parse.js';
import type { ApiDeps } from '../server.js';
import type { Routes } from '../validation.js';

const ImportBody = z.object({ path: z.string(), name: z.string().optional() }).strict();
const RemoveQuery = z.object({ force: q.bool() });

export function imageSummary(i: Image) {
  return { id: i.id, tags: i.tags, size: i.size, createdAt: i.createdAt, architecture: i.architecture, os: i.os };
}

export const imageRoutes =
  ({ images, engine }: ApiDeps): Routes =>
  async (app) => {
    app.get('/v1/images', async () => (await images.list()).map(imageSummary));

    app.get('/v1/images/:ref', { schema: { params: RefParams } }, async (req) => images.resolve(req.params.ref));

    /** Import an OCI layout directory or an OCI/docker-save tar at a path on the daemon's host. */
    app.post('/v1/images/import', { schema: { body: ImportBody } }, async (req, reply) => {
      if (!isAbsolute(req.body.path)) throw invalid('path must be an absolute path on the daemon host');
      const imported = await images.importPath(req.body.path, req.body.name);
      return reply.status(201).send(imported.map(imageSummary));
    });

    app.delete('/v1/images/:ref', { schema: { params: RefParams, querystring: RemoveQuery } }, async (req) => {
      const inUse = async (imageId: string) => (await engine.list(true)).some((i: Instance) => i.config.imageId === imageId);
      return images.remove(req.params.ref, { force: req.query.force, inUse });
    });
  };
