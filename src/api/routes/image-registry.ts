import type { FastifyReply } from 'fastify';
import { PassThrough } from 'node:stream';
import { z } from 'zod';
import { invalid, toHullError } from '../../core/errors.js';
import type { OnProgress } from '../../image/registry/progress.js';
import { PARAM_MAX, parsedBy, q, ref, RefParams } from '../parse.js';
import { parseReference } from '../../image/reference.js';
import type { ApiDeps } from '../server.js';
import type { Routes } from '../validation.js';
import { imageSummary } from './images.js';

/** An image reference, checked before any progress streams (after that, a failure is only an error event). */
const ImageRef = z.string().min(1).max(PARAM_MAX).pipe(parsedBy((s) => (parseReference(s), s)));
const PullBody = z.object({ ref: ImageRef, platform: z.string().optional() }).strict();
const LoginBody = z.object({ registry: z.string(), username: z.string().min(1), password: z.string().min(1) }).strict();

const TagQuery = z.object({ repo: q.required(), tag: q.str() });
/** More images after the one in the path: `ref` may repeat. */
const SaveQuery = z.object({ format: q.oneOf(['docker', 'oci'], 'docker'), ref: q.list() });
const PruneQuery = z.object({ all: q.bool() });
const RegistryParams = z.object({ registry: ref }).strict();
const PushParams = z.object({ ref: ImageRef }).strict();

/**
 * Answer with a stream of newline-delimited JSON events from `run`, ended by
 * `{"type":"result",...}` or `{"type":"error","code","message"}`. The status
 * is 200 once streaming starts, so failures after that arrive as the error
 * event. A client that goes away cancels the work.
 */
export function ndjson(reply: FastifyReply, run: (on: OnProgress, signal: AbortSignal) => Promise<object>) {
  const out = new PassThrough();
  const ctl = new AbortController();
  const write = (ev: object) => {
    if (!out.writableEnded) out.write(`${JSON.stringify(ev)}\n`);
  };
  // The response closing before it finished means the client went away.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ctl.abort();
  });
  run(write, ctl.signal).then(
    (result) => write({ type: 'result', ...result }),
    (e: unknown) => {
      const he = toHullError(e);
      write({ type: 'error', code: he.code, message: he.message });
    },
  ).finally(() => out.end());
  reply.header('Content-Type', 'application/x-ndjson');
  return reply.send(out);
}

/**
 * Registry and archive routes for images: pull, push, tag, save, load,
 * prune, and registry logins.
 */
export const imageRegistryRoutes =
  ({ images, engine }: ApiDeps): Routes =>
  async (app) => {
    const usedImages = async () => new Set((await engine.list(true)).map((i) => i.config.imageId));

    app.post('/v1/images/pull', { schema: { body: PullBody } }, async (req, reply) => {
      const body = req.body;
      return ndjson(reply, async (onProgress, signal) => {
        const r = await images.registry.pull(body.ref, { platform: body.platform, onProgress, signal });
        return { image: imageSummary(r.image), name: r.name, digest: r.digest, status: r.status };
      });
    });

    app.post('/v1/images/:ref/push', { schema: { params: PushParams } }, async (req, reply) => {
      await images.resolve(req.params.ref);
      return ndjson(reply, (onProgress, signal) => images.registry.push(req.params.ref, { onProgress, signal }));
    });

    app.post('/v1/images/:ref/tag', { schema: { params: RefParams, querystring: TagQuery } }, async (req, reply) => {
      const q = req.query;
      const name = await images.tag(req.params.ref, q.tag ? `${q.repo}:${q.tag}` : q.repo);
      return reply.status(201).send({ name });
    });

    app.get('/v1/images/:ref/save', { schema: { params: RefParams, querystring: SaveQuery } }, async (req, reply) => {
      const stream = await images.saveArchive([req.params.ref, ...req.query.ref], req.query.format);
      reply.header('Content-Type', 'application/x-tar');
      return reply.send(stream);
    });

    app.post('/v1/images/load', async (req) => {
      if (!req.body || typeof (req.body as NodeJS.ReadableStream).pipe !== 'function') throw invalid('send the archive as the body, with Content-Type: application/x-tar');
      return (await images.load(req.body as NodeJS.ReadableStream)).map(imageSummary);
    });

    app.post('/v1/images/prune', { schema: { querystring: PruneQuery } }, async (req) => {
      const used = await usedImages();
      return images.prune({ all: req.query.all, inUse: (id) => used.has(id) });
    });

    app.post('/v1/auth', { schema: { body: LoginBody } }, async (req) => {
      const body = req.body;
      const { host } = await images.registry.login(body.registry, { username: body.username, password: body.password });
      return { status: 'Login Succeeded', registry: host };
    });

    app.delete('/v1/auth/:registry', { schema: { params: RegistryParams } }, async (req) => {
      const { host, removed } = await images.registry.logout(req.params.registry);
      return { registry: host, removed };
    });
  };
