import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Engine } from '../engine/engine.js';
import type { Services } from '../engine/services.js';
import { serviceRoutes } from './routes/services.js';
import { nodeRoutes } from './routes/nodes.js';
import type { Logger } from '../engine/logger.js';
import type { ImageService } from '../image/image-service.js';
import { httpError } from './errors.js';
import { containerRoutes } from './routes/containers.js';
import { imageRoutes } from './routes/images.js';
import { imageRegistryRoutes } from './routes/image-registry.js';
import { buildRoutes } from './routes/build.js';
import { networkRoutes } from './routes/networks.js';
import { vmRoutes } from './routes/vms.js';
import { volumeRoutes } from './routes/volumes.js';
import { systemRoutes } from './routes/system.js';
import { UpgradeRouter } from './upgrade.js';
import type { StoreSpec } from '../store/spec.js';
import type { DashboardStatus } from './contract/system.js';
export type { DashboardStatus } from './contract/system.js';
import { containerUpgrades } from './routes/container-streams.js';
import { execRoutes } from './routes/exec.js';
import { ExecSessions } from './routes/exec-sessions.js';
import { PARAM_MAX } from './parse.js';
import { strictEdge } from './validation.js';

export interface ApiDeps {
  engine: Engine;
  services: Services;
  images: ImageService;
  log: Logger;
  version: string;
  /** Where the daemon keeps its state, as `hull info` shows it. */
  store?: StoreSpec;
  /** Where the web dashboard is served, and its sign-in link (`hull dashboard`); it starts after the API. */
  dashboard?: { status(): DashboardStatus; rotate(): Promise<DashboardStatus> };
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
  // Path parameters up to PARAM_MAX: fastify's default (100) would make longer names unusable in URLs.
  const app = Fastify({
    loggerInstance: apiLog as unknown as FastifyBaseLogger,
    bodyLimit: 16 * 1024 * 1024,
    routerOptions: { maxParamLength: PARAM_MAX },
    // A URL fastify cannot decode or route (bad escape, a segment over PARAM_MAX), and
    // a request node cannot parse, answer with the Error body too.
    frameworkErrors: (err, _req, reply) => {
      const { status, body } = httpError(err);
      void (reply as FastifyReply).status(status).send(body);
    },
    clientErrorHandler: clientError,
  });
  strictEdge(app);
  app.addContentTypeParser(['application/x-tar', 'application/octet-stream'], (_req, payload, done) => done(null, payload));
  app.setErrorHandler((err, req, reply) => {
    // A client that went away mid-body (an upload cut off): nobody reads the answer, and the daemon is fine.
    if (!req.raw.complete && req.raw.socket?.destroyed) {
      apiLog.debug({ err: String(err), url: req.url.slice(0, 200) }, 'client went away mid-request');
      return reply.status(400).send({ code: 'invalid', message: 'the request was cut off: the client closed the connection' });
    }
    const { status, body } = httpError(err);
    if (status >= 500) deps.log.error({ err, method: req.method, url: req.url.slice(0, 200) }, 'request failed');
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ code: 'not_found', message: `no route for ${req.method} ${req.url}` }));

  const sessions = new ExecSessions();
  // A removed container's exec sessions go with it.
  deps.engine.eventLog.subscribe((ev) => (ev.Type === 'container' || ev.Type === 'vm') && ev.Action === 'destroy' && sessions.dropContainer(ev.Actor.ID));
  const upgrades = new UpgradeRouter(apiLog);
  await app.register(systemRoutes(deps));
  await app.register(containerRoutes(deps));
  await app.register(imageRoutes(deps));
  await app.register(imageRegistryRoutes(deps));
  await app.register(buildRoutes(deps));
  await app.register(execRoutes(deps, sessions));
  await app.register(networkRoutes(deps));
  await app.register(vmRoutes(deps));
  await app.register(volumeRoutes(deps));
  await app.register(serviceRoutes(deps));
  await app.register(nodeRoutes(deps));
  containerUpgrades(upgrades, deps, sessions);
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
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

/** A request node could not parse (bad framing, headers too large, too slow): its status and the Error body, then close. */
function clientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const text = JSON.stringify({ code: 'invalid', message: status === 431 ? 'request headers too large' : status === 408 ? 'request too slow' : `malformed HTTP request (${err.code ?? 'unparsable'})` });
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`);
  socket.destroy();
}

/** Listen on a unix socket, root only (mode 0660), replacing a stale socket. */
export async function listenUnix(app: FastifyInstance, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await rm(path, { force: true });
  await app.listen({ path });
  await chmod(path, 0o660);
}
