import { z } from 'zod';
import type { FastifyPluginAsync } from 'fastify';
import { invalid } from '../../core/errors.js';
import { networkSummary } from '../../net/networks.js';
import type { ApiDeps } from '../server.js';
import { summary } from './containers.js';

const ConnectBody = z.object({ container: z.string().min(1), aliases: z.array(z.string()).optional(), ip: z.string().optional() }).strict();
const DisconnectBody = z.object({ container: z.string().min(1) }).strict();

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw invalid(`invalid ${what} request: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** Networks: create, list, inspect, remove; connect and disconnect containers. */
export const networkRoutes =
  ({ engine }: ApiDeps): FastifyPluginAsync =>
  async (app) => {
    app.post('/v1/networks', async (req, reply) => {
      const n = await engine.networks.create(req.body as never);
      return reply.status(201).send({ id: n.id, name: n.name });
    });

    app.get('/v1/networks', async () => (await engine.networks.networks()).filter((n) => !n.removing).map(networkSummary));

    app.post('/v1/networks/prune', async () => ({ deleted: await engine.networks.prune() }));

    app.get('/v1/networks/:ref', async (req) => engine.networks.inspect((req.params as { ref: string }).ref));

    app.delete('/v1/networks/:ref', async (req, reply) => {
      await engine.networks.remove((req.params as { ref: string }).ref);
      return reply.status(204).send();
    });

    app.post('/v1/networks/:ref/connect', async (req) => {
      const b = parse(ConnectBody, req.body, 'connect');
      return summary(await engine.connect(b.container, (req.params as { ref: string }).ref, { aliases: b.aliases, ip: b.ip }));
    });

    app.post('/v1/networks/:ref/disconnect', async (req) => {
      const b = parse(DisconnectBody, req.body, 'disconnect');
      return summary(await engine.disconnect(b.container, (req.params as { ref: string }).ref));
    });
  };
