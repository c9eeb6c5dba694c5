import { z } from 'zod';
import type { FastifyPluginAsync } from 'fastify';
import { isAbsolute } from 'node:path';
import { invalid } from '../../core/errors.js';
import type { Image } from '../../core/image.js';
import type { Instance } from '../../core/instance.js';
import type { ApiDeps } from '../server.js';

const ImportBody = z.object({ path: z.string(), name: z.string().optional() }).strict();

export function imageSummary(i: Image) {
  return { id: i.id, tags: i.tags, size: i.size, createdAt: i.createdAt, architecture: i.architecture, os: i.os };
}

export const imageRoutes =
  ({ images, engine }: ApiDeps): FastifyPluginAsync =>
  async (app) => {
    app.get('/v1/images', async () => (await images.list()).map(imageSummary));

    app.get('/v1/images/:ref', async (req) => images.resolve((req.params as { ref: string }).ref));

    /** Import an OCI layout directory or an OCI/docker-save tar at a path on the daemon's host. */
    app.post('/v1/images/import', async (req, reply) => {
      const parsed = ImportBody.safeParse(req.body ?? {});
      if (!parsed.success) throw invalid(`invalid import request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      if (!isAbsolute(parsed.data.path)) throw invalid('path must be an absolute path on the daemon host');
      const imported = await images.importPath(parsed.data.path, parsed.data.name);
      return reply.status(201).send(imported.map(imageSummary));
    });

    app.delete('/v1/images/:ref', async (req) => {
      const q = req.query as Record<string, string>;
      const inUse = async (imageId: string) => (await engine.list(true)).some((i: Instance) => i.config.imageId === imageId);
      return images.remove((req.params as { ref: string }).ref, { force: q.force === '1' || q.force === 'true', inUse });
    });
  };
