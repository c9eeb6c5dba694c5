import { ApplyBody, ScaleBody, UndoBody } from '../contract/services.js';
import { RefParams } from '../parse.js';
import type { ApiDeps } from '../server.js';
import type { Routes } from '../validation.js';

/**
 * Apps and services: apply, diff and delete a Compose file; list, inspect,
 * scale, roll back and remove services; a service's replicas.
 */
export const serviceRoutes =
  ({ services }: ApiDeps): Routes =>
  async (app) => {
    app.post('/v1/apps/apply', { schema: { body: ApplyBody } }, async (req) => services.apply(req.body));
    app.post('/v1/apps/diff', { schema: { body: ApplyBody } }, async (req) => services.apply({ ...req.body, dryRun: true }));
    app.post('/v1/apps/delete', { schema: { body: ApplyBody } }, async (req) => services.deleteFile(req.body));

    app.get('/v1/services', async () => services.list());
    app.get('/v1/services/:ref', { schema: { params: RefParams } }, async (req) => services.inspect(req.params.ref));
    app.get('/v1/services/:ref/replicas', { schema: { params: RefParams } }, async (req) => services.replicas(req.params.ref));
    app.post('/v1/services/:ref/scale', { schema: { params: RefParams, body: ScaleBody } }, async (req) => services.scale(req.params.ref, req.body.replicas));
    app.post('/v1/services/:ref/rollback', { schema: { params: RefParams, body: UndoBody } }, async (req) => services.undo(req.params.ref, req.body.toRevision));
    app.delete('/v1/services/:ref', { schema: { params: RefParams } }, async (req, reply) => {
      await services.remove(req.params.ref);
      return reply.status(204).send();
    });
  };
