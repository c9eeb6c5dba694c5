import { z } from 'zod';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid, isHullError, notFound } from '../../core/errors.js';
import { buildContainers } from '../../engine/build-containers.js';
import type { BuildEvent } from '../../image/build/builder.js';
import { applyTar } from '../../image/unpack/apply-tar.js';
import { resolveInRoot } from '../../storage/rootfs-path.js';
import { q } from '../parse.js';
import type { ApiDeps } from '../server.js';
import type { Routes } from '../validation.js';
import { ndjson } from './image-registry.js';
import { imageSummary } from './images.js';

/** `t` (tags) and `buildarg` (KEY=VALUE) repeat, as docker's. */
const BuildQuery = z.object({ t: q.list(), dockerfile: q.str(), buildarg: q.list(), nocache: q.bool(), target: q.str() });

/**
 * `POST /v1/build`: the body is the build context as a tar (the CLI has
 * applied .dockerignore); the answer streams the build's progress as
 * newline-delimited JSON, ended by a `result` (the image) or an `error`.
 */
export const buildRoutes =
  ({ images, engine }: ApiDeps): Routes =>
  async (app) => {
    app.post('/v1/build/prune', async () => images.pruneBuildCache());

    app.post('/v1/build', { schema: { querystring: BuildQuery } }, async (req, reply) => {
      const q = req.query;
      const buildArgs: Record<string, string> = {};
      for (const a of q.buildarg) {
        const eq = a.indexOf('=');
        if (eq <= 0) throw invalid(`--build-arg "${a}" is not KEY=VALUE`);
        buildArgs[a.slice(0, eq)] = a.slice(eq + 1);
      }
      if (!req.body || typeof (req.body as NodeJS.ReadableStream).pipe !== 'function') throw invalid('send the build context as the body, with Content-Type: application/x-tar');
      await mkdir(images.content.tmpDir, { recursive: true });
      const work = await mkdtemp(join(images.content.tmpDir, 'build-'));
      try {
        const contextDir = join(work, 'context');
        await extractContext(req.body as NodeJS.ReadableStream, contextDir);
        const name = q.dockerfile || 'Dockerfile';
        const dockerfile = await readFile(await resolveInRoot(contextDir, name), 'utf8').catch(() => {
          throw notFound(`Dockerfile "${name}" in the build context`);
        });
        const builder = images.builder(buildContainers(engine));
        return await ndjson(reply, async (on, signal) => {
          try {
            const onEvent = on as unknown as (e: BuildEvent) => void;
            const image = await builder.build({ contextDir, dockerfile, tags: q.t, buildArgs, noCache: q.nocache, target: q.target || undefined, onEvent, signal });
            return { image: imageSummary(image), id: image.id };
          } finally {
            await rm(work, { recursive: true, force: true });
          }
        });
      } catch (e) {
        await rm(work, { recursive: true, force: true });
        throw e;
      }
    });
  };

/** Unpack the context with the layer unpacker: nothing in it can land outside `dir`. */
export async function extractContext(body: NodeJS.ReadableStream, dir: string): Promise<void> {
  await mkdir(dir, { mode: 0o755 });
  await applyTar([body], dir, (e) => (isHullError(e) ? e.wrap('build context') : invalid(`build context: ${(e as Error).message}`)));
}
