import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Engine } from '../engine/engine.js';
import type { Logger } from '../engine/logger.js';
import type { ImageService } from '../image/image-service.js';
import { errorResponse } from './errors.js';
import { containerRoutes } from './routes/containers.js';
import { imageRoutes } from './routes/images.js';
import { imageRegistryRoutes } from './routes/image-registry.js';
import { buildRoutes } from './routes/build.js';
import { networkRoutes } from './routes/networks.js';
import { vmRoutes } from './routes/vms.js';
import { systemRoutes } from './routes/system.js';
import { UpgradeRouter } from './upgrade.js';
import { containerUpgrades } from './routes/container-streams.js';
import { ExecSessions, execRoutes } from './routes/exec.js';

export interface ApiDeps {
  engine: Engine;
  images: ImageService;
  log: Logger;
  version: string;
}

export const API_VERSION = 'v1';

/**
 * The REST API (openapi.yaml is the contract), served on a unix socket.
 * Plain routes go through fastify; streams (attach, exec) are HTTP upgrades
 * handled by UpgradeRouter on the same server.
 */
export async function buildServer(deps: ApiDeps): Promise<FastifyInstance> {
  // fastify's logger type differs from pino's by generics only.
  // Request logs are info-level: the API's own logger only reports warnings and errors.
  const apiLog = deps.log.child({ component: 'api' }, { level: 'warn' });
  const app = Fastify({ loggerInstance: apiLog as unknown as FastifyBaseLogger, bodyLimit: 16 * 1024 * 1024 });
  app.addContentTypeParser(['application/x-tar', 'application/octet-stream'], (_req, payload, done) => done(null, payload));
  app.setErrorHandler((err, _req, reply) => {
    const fe = err as { code?: string; statusCode?: number; validation?: unknown; message?: string };
    const fastifyCode = fe.code ?? '';
    if (fastifyCode.startsWith('FST_ERR') || fe.validation) {
      return reply.status(fe.statusCode ?? 400).send({ code: 'invalid', message: fe.message });
    }
    const { status, body } = errorResponse(err);
    if (status >= 500) deps.log.error({ err }, 'request failed');
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ code: 'not_found', message: `no route for ${req.method} ${req.url}` }));

  const sessions = new ExecSessions();
  const upgrades = new UpgradeRouter();
  await app.register(systemRoutes(deps));
  await app.register(containerRoutes(deps));
  await app.register(imageRoutes(deps));
  await app.register(imageRegistryRoutes(deps));
  await app.register(buildRoutes(deps));
  await app.register(execRoutes(deps, sessions));
  await app.register(networkRoutes(deps));
  await app.register(vmRoutes(deps));
  containerUpgrades(upgrades, deps, sessions);
  app.server.on('upgrade', (req, socket, head: Buffer) => {
    // Bytes a client sent right behind its request (stdin, before the 101) are the stream's first.
    if (head.length) socket.unshift(head);
    upgrades.handle(req, socket);
  });
  // Streams (logs -f, attach, exec) never end on their own: cut them at shutdown.
  app.addHook('preClose', async () => {
    upgrades.closeAll();
    app.server.closeAllConnections();
  });
  return app;
}

/** Listen on a unix socket, root only (mode 0660), replacing a stale socket. */
export async function listenUnix(app: FastifyInstance, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await rm(path, { force: true });
  await app.listen({ path });
  await chmod(path, 0o660);
}
