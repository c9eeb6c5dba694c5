import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { isHullError } from '../../../core/errors.js';
import type { Network } from '../../../core/network.js';
import { DEFAULT_NETWORK } from '../../../net/networks.js';
import { networkJson } from '../../docker-view/network.js';
import { anyOf, nameMatches, parseFilters } from '../../filters.js';
import { DockerError } from '../errors.js';
import { container } from '../lookup.js';
import { allLabels, dockerBody, nullable, qStr, type RawQuery } from '../query.js';
import type { DockerCtx } from '../server.js';

const CreateBody = z
  .object({
    Name: z.string({ error: 'Name is required' }).min(1, 'Name is required'),
    Driver: nullable(z.string()),
    Internal: nullable(z.boolean()),
    EnableIPv6: nullable(z.boolean()),
    IPAM: nullable(z.object({ Driver: nullable(z.string()), Config: nullable(z.array(z.object({ Subnet: nullable(z.string()), IPRange: nullable(z.string()), Gateway: nullable(z.string()) }).loose())) }).loose()),
    Options: nullable(z.record(z.string(), z.string())),
    Labels: nullable(z.record(z.string(), z.string())),
  })
  .loose();

const ConnectBody = z
  .object({
    Container: z.string({ error: 'Container is required' }).min(1),
    EndpointConfig: nullable(z.object({ Aliases: nullable(z.array(z.string())), IPAMConfig: nullable(z.object({ IPv4Address: nullable(z.string()) }).loose()) }).loose()),
    Force: nullable(z.boolean()),
  })
  .loose();

type P = { id: string };

/** docker's name for the default network is `bridge`; Hull's is its own (hull0): both find it. */
const netRef = (ref: string) => (ref === 'bridge' || ref === 'default' ? DEFAULT_NETWORK : ref);

/** Networks: list, inspect, create, remove, connect, disconnect, prune. */
export const networkRoutes =
  (ctx: DockerCtx): FastifyPluginAsync =>
  async (app) => {
    const nets = ctx.engine.networks;
    const find = async (ref: string) => {
      try {
        return await nets.get(netRef(ref));
      } catch (e) {
        if (isHullError(e, 'not_found')) throw new DockerError(404, `network ${ref} not found`);
        throw e;
      }
    };
    const json = async (n: Network) => dockerNetwork(await nets.inspect(n.id));

    app.get('/networks', async (req) => {
      const f = parseFilters(qStr(req.query as RawQuery, 'filters'), ['name', 'id', 'label', 'driver', 'type', 'dangling', 'scope']);
      const all = (await nets.networks()).filter((n) => !n.removing);
      const keep = all.filter(
        (n) =>
          anyOf(f, 'name', (v) => nameMatches(v, n.name)) &&
          anyOf(f, 'id', (v) => n.id.startsWith(v)) &&
          allLabels(f, n.labels) &&
          anyOf(f, 'driver', (v) => v === n.driver) &&
          anyOf(f, 'scope', (v) => v === 'local') &&
          anyOf(f, 'type', (v) => v === (n.isDefault ? 'builtin' : 'custom')) &&
          anyOf(f, 'dangling', (v) => (v === 'true' || v === '1') === (Object.keys(n.ipam.allocations).length === 0 && !n.isDefault)),
      );
      return Promise.all(keep.map(json));
    });

    app.get('/networks/:id', async (req) => json(await find((req.params as P).id)));

    app.post('/networks/create', async (req, reply) => {
      const b = dockerBody(CreateBody, req.body, 'network create request');
      const warnings: string[] = [];
      if (b.Driver && b.Driver !== 'bridge') throw new DockerError(501, `network driver "${b.Driver}" is not supported by Hull (bridge only)`);
      if (b.IPAM?.Driver && b.IPAM.Driver !== 'default') throw new DockerError(501, `IPAM driver "${b.IPAM.Driver}" is not supported by Hull`);
      if (b.EnableIPv6) warnings.push('Hull networks are IPv4 only: EnableIPv6 is ignored');
      if (Object.keys(b.Options ?? {}).length) warnings.push(`Hull ignores the network options ${Object.keys(b.Options ?? {}).join(', ')}`);
      const v4 = (b.IPAM?.Config ?? []).filter((c) => !c.Subnet?.includes(':'));
      if (v4.length > 1) throw new DockerError(501, 'a Hull network has one IPv4 subnet');
      const c = v4[0];
      const n = await nets
        .create({ name: b.Name, internal: b.Internal ?? false, labels: b.Labels ?? {}, ...(c?.Subnet ? { subnet: c.Subnet } : {}), ...(c?.Gateway ? { gateway: c.Gateway } : {}), ...(c?.IPRange ? { ipRange: c.IPRange } : {}) })
        .catch((e: unknown) => {
          if (isHullError(e, 'conflict') && e.message.includes('name')) throw new DockerError(409, `network with name ${b.Name} already exists`);
          throw e;
        });
      return reply.status(201).send({ Id: n.id, Warning: warnings.join('; ') });
    });

    app.delete('/networks/:id', async (req, reply) => {
      const n = await find((req.params as P).id);
      if (n.isDefault) throw new DockerError(403, `${n.name} is a pre-defined network and cannot be removed`);
      await nets.remove(n.id);
      return reply.status(204).send();
    });

    app.post('/networks/:id/connect', async (req, reply) => {
      const b = dockerBody(ConnectBody, req.body, 'network connect request');
      const n = await find((req.params as P).id);
      const inst = await container(ctx.engine, b.Container);
      const ip = b.EndpointConfig?.IPAMConfig?.IPv4Address || undefined;
      await ctx.engine.connect(inst.id, n.id, { aliases: b.EndpointConfig?.Aliases ?? [], ...(ip ? { ip } : {}) });
      return reply.status(200).send();
    });

    app.post('/networks/:id/disconnect', async (req, reply) => {
      const b = dockerBody(ConnectBody, req.body, 'network disconnect request');
      const n = await find((req.params as P).id);
      const inst = await container(ctx.engine, b.Container);
      await ctx.engine.disconnect(inst.id, n.id);
      return reply.status(200).send();
    });

    app.post('/networks/prune', async () => ({ NetworksDeleted: await nets.prune() }));
  };

/** docker's network document: the shared view, with the options a client gave (Hull keeps none), so compose sees no drift. */
export function dockerNetwork(n: Parameters<typeof networkJson>[0]) {
  return { ...networkJson(n), Options: {} };
}
