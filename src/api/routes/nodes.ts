import type { Availability } from '../../core/node.js';
import { NodeUpdateBody } from '../contract/nodes.js';
import { RefParams } from '../parse.js';
import type { ApiDeps } from '../server.js';
import type { Routes } from '../validation.js';

/** Nodes: the hosts replicas are placed on (one, on a single host); their labels and availability. */
export const nodeRoutes =
  ({ services }: ApiDeps): Routes =>
  async (app) => {
    app.get('/v1/nodes', async () => services.nodes.list());
    app.get('/v1/nodes/:ref', { schema: { params: RefParams } }, async (req) => services.nodes.get(req.params.ref));
    app.post('/v1/nodes/:ref/update', { schema: { params: RefParams, body: NodeUpdateBody } }, async (req) =>
      services.nodes.update(req.params.ref, { ...req.body, availability: req.body.availability as Availability | undefined }),
    );
  };
