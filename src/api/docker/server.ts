import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Engine } from '../../engine/engine.js';
import type { Logger } from '../../engine/logger.js';
import type { ImageService } from '../../image/image-service.js';
import { rm } from 'node:fs/promises';
import { ExecSessions } from '../routes/exec-sessions.js';
import { listenUnix } from '../server.js';
import { writeHttpError } from '../streams.js';
import { checkApiVersion, MAX_API, stripVersion } from './api-version.js';
import { dockerErrorResponse } from './errors.js';
import { buildRoutes } from './routes/build.js';
import { containerIoRoutes } from './routes/container-io.js';
import { containerRoutes } from './routes/containers.js';
import { execRoutes } from './routes/exec.js';
import { imageRoutes } from './routes/images.js';
import { networkRoutes } from './routes/networks.js';
import { systemRoutes } from './routes/system.js';
import { unsupportedRoutes } from './routes/unsupported.js';
import { volumeRoutes } from './routes/volumes.js';
import { trace } from './trace.js';
import { dockerUpgrade } from './upgrade.js';

export interface DockerApiDeps {
  engine: Engine;
  images: ImageService;
  log: Logger;
  version: string;
}

/** What the Docker room's routes share: Hull's services, and the room's own exec sessions and event log. */
export interface DockerCtx extends DockerApiDeps {
  execs: ExecSessions;
  /** A tty container's size from its create body (ConsoleSize), applied when it is first attached, before it starts. */
  consoleSizes: Map<string, [number, number]>;
}

/**
 * The Docker Engine API, served on its own socket (`hull daemon
 * --docker-socket`), over the same engine, images and networks as Hull's
 * own API: a container made through one is seen, changed and removed
 * through the other. Versioned paths (`/v1.24/…` to `/v1.50/…`) and
 * unversioned ones; docker's shapes and status codes; streams (attach, exec)
 * as HTTP upgrades or hijacked responses, as docker's clients use them.
 */
export async function buildDockerServer(deps: DockerApiDeps): Promise<FastifyInstance> {
  const log = deps.log.child({ component: 'docker-api' }, { level: 'warn' });
  const app = Fastify({
    loggerInstance: log as unknown as FastifyBaseLogger,
    bodyLimit: 16 * 1024 * 1024,
    rewriteUrl: (req) => stripVersion(req),
    // docker answers HEAD only where it says so (_ping, archive).
    exposeHeadRoutes: false,
  });
  const ctx: DockerCtx = { ...deps, execs: new ExecSessions(), consoleSizes: new Map() };
  // What the room keeps per container goes with the container.
  const unsubscribe = deps.engine.eventLog.subscribe((ev) => {
    if (ev.Type !== 'container' || ev.Action !== 'destroy') return;
    ctx.execs.dropContainer(ev.Actor.ID);
    ctx.consoleSizes.delete(ev.Actor.ID);
  });
  contentTypes(app);
  app.addHook('onRequest', async (req, reply) => {
    reply.headers(serverHeaders(deps.version));
    checkApiVersion(req.raw);
  });
  app.addHook('onResponse', async (req, reply) => trace(req.raw, req.routeOptions.url, reply.statusCode));
  // docker's client reads an error's body only when the type is exactly application/json.
  app.addHook('onSend', async (_req, reply, payload) => {
    const ct = reply.getHeader('content-type');
    if (typeof ct === 'string' && ct.startsWith('application/json;')) reply.header('content-type', 'application/json');
    return payload;
  });
  app.setErrorHandler((err, req, reply) => {
    const fe = err as { code?: string; statusCode?: number };
    if (fe.code?.startsWith('FST_ERR')) return reply.status(fe.statusCode ?? 400).send({ message: (err as Error).message });
    const { status, message } = dockerErrorResponse(err);
    if (status >= 500 && status !== 501 && status !== 503) deps.log.error({ err, url: req.url }, 'docker API request failed');
    if (req.method === 'HEAD') return reply.status(status).send();
    return reply.status(status).send({ message });
  });
  app.setNotFoundHandler((_req, reply) => reply.status(404).send({ message: 'page not found' }));

  for (const routes of [systemRoutes, containerRoutes, containerIoRoutes, execRoutes, imageRoutes, buildRoutes, networkRoutes, volumeRoutes, unsupportedRoutes]) {
    await app.register(routes(ctx));
  }
  const open = new Set<Duplex>();
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    dockerUpgrade(ctx, req, socket, head).catch((e: unknown) => {
      const { status, message } = dockerErrorResponse(e);
      if (!socket.destroyed) writeHttpError(socket, status, { message });
    });
  });
  // Streams (logs -f, attach, exec, events) never end on their own: cut them at shutdown.
  app.addHook('preClose', async () => {
    for (const s of open) s.destroy();
    unsubscribe();
    app.server.closeAllConnections();
  });
  return app;
}

/** Headers dockerd puts on every answer; clients read Api-Version from any of them. */
function serverHeaders(version: string): Record<string, string> {
  return { 'Api-Version': MAX_API, 'Docker-Experimental': 'false', Ostype: 'linux', Server: `Hull/${version} (linux)` };
}

/**
 * JSON bodies as dockerd takes them (an empty body is no body: clients send
 * `Content-Type: application/json` with nothing after it); anything else
 * (tar contexts and archives) reaches the route as a stream.
 */
function contentTypes(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = (body as string).trim();
    if (!text) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      const e = new Error('invalid JSON body') as Error & { statusCode: number; code: string };
      e.statusCode = 400;
      e.code = 'FST_ERR_DOCKER_JSON';
      done(e, undefined);
    }
  });
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
}

/** Serve the Docker API on a unix socket (root only, mode 0660), replacing a stale socket. */
export async function listenDocker(deps: DockerApiDeps, path: string): Promise<{ close: () => Promise<void> }> {
  if (path === undefined || !path.startsWith('/')) throw new Error(`the Docker socket must be an absolute path, not "${path}"`);
  const app = await buildDockerServer(deps);
  await listenUnix(app, path);
  return {
    close: async () => {
      await app.close();
      await rm(path, { force: true });
    },
  };
}
