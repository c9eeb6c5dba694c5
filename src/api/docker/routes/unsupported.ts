import type { FastifyPluginAsync } from 'fastify';
import { DockerError, notSupported, notSwarmManager } from '../errors.js';

const SWARM_OBJECTS = ['nodes', 'services', 'tasks', 'secrets', 'configs'];
const METHODS = ['GET', 'POST', 'DELETE', 'PUT'] as const;

/**
 * What Hull does not map: Swarm, plugins, checkpoints, commit, image
 * import by URL, registry inspection. Each answers as docker does where
 * that is an honest answer (a daemon outside a swarm says so; there are no
 * plugins to list), and otherwise with 501 and the feature named: never a
 * crash, never a 500.
 */
export const unsupportedRoutes = (): FastifyPluginAsync => async (app) => {
  const any = (url: string, fn: () => unknown) => app.route({ method: [...METHODS], url, handler: async () => fn() });
  const fail = (e: DockerError) => () => {
    throw e;
  };

  app.get('/swarm', fail(notSwarmManager()));
  for (const verb of ['init', 'join', 'update', 'unlock']) app.post(`/swarm/${verb}`, fail(notSupported('Swarm mode')));
  app.post('/swarm/leave', fail(new DockerError(503, 'This node is not part of a swarm')));
  app.get('/swarm/unlockkey', fail(notSwarmManager()));
  for (const o of SWARM_OBJECTS) {
    any(`/${o}`, fail(notSwarmManager()));
    any(`/${o}/*`, fail(notSwarmManager()));
  }

  app.get('/plugins', async () => []);
  // There are none: inspecting one is a 404 (docker inspect looks for a name among every kind of object).
  app.get('/plugins/:name/json', async (req) => {
    throw new DockerError(404, `plugin "${(req.params as { name: string }).name}" not found`);
  });
  any('/plugins/*', fail(notSupported('Plugins')));

  any('/containers/:id/checkpoints', fail(notSupported('Checkpoint and restore')));
  any('/containers/:id/checkpoints/*', fail(notSupported('Checkpoint and restore')));
  app.post('/commit', fail(notSupported('docker commit')));
  app.get('/distribution/*', fail(notSupported('docker manifest inspect through the daemon')));
  any('/containers/:id/attach/ws', fail(notSupported('attach over a websocket')));
};
