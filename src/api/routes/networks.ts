import { z } from 'zod';
import { NetworkCreateSchema, networkSummary } from '../../net/networks.js';
import { RefParams } from '../parse.js';
import type { ApiDeps } from '../server.js';
import type { Routes } from '../validation.js';
import { summary } from './containers.js';

const ConnectBody = z.object({ container: z.string().min(1), aliases: z.array(z.string()).optional(), ip: z.string().optional() }).strict();
const DisconnectBody = z.object({ container: z.string().min(1) }).strict();

/** Networks: create, list, inspect, remove; connect and disconnect containers. */
export const networkRoutes =
  ({ engine }: ApiDeps): Routes =>
  async (app) => {
    app.post('/v1/networks', { schema: { body: NetworkCreateSchema } }, async (req, reply) => {
      const n = await engine.networks.create(req.body);
      return reply.status(201).send({ id: n.id, name: n.name });
    });

    app.get('/v1/networks', async () => (await engine.networks.networks()).filter((n) => !n.removing).map(networkSummary));

    app.post('/v1/networks/prune', async () => ({ deleted: await engine.networks.prune() }));

    app.get('/v1/networks/:ref', { schema: { params: RefParams } }, async (req) => engine.networks.inspect(req.params.ref));

    app.delete('/v1/networks/:ref', { schema: { params: RefParams } }, async (req, reply) => {
      await engine.networks.remove(req.params.ref);
      return reply.status(204).send();
    });

    app.post('/v1/networks/:ref/connect', { schema: { params: RefParams, body: ConnectBody } }, async (req) => {
      const b = req.body;
      return summary(await engine.connect(b.container, req.params.ref, { aliases: b.aliases, ip: b.ip }));
    });

    app.post('/v1/networks/:ref/disconnect', { schema: { params: RefParams, body: DisconnectBody } }, async (req) => {
      return summary(await engine.disconnect(req.body.container, req.params.ref));
    });
  };
