import type { FastifyPluginAsync } from 'fastify';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { buildContainers } from '../../../engine/build-containers.js';
import { resolveInRoot } from '../../../storage/rootfs-path.js';
import { extractContext } from '../../routes/build.js';
import { DockerError } from '../errors.js';
import { qBool, qJson, qList, qStr, type RawQuery } from '../query.js';
import type { DockerCtx } from '../server.js';
import { buildMessage, jsonMessageStream } from '../translate/progress.js';

const StrMap = z.record(z.string(), z.string().nullable());

/**
 * `POST /build`, docker's classic builder: the body is the client's tar of
 * the context (.dockerignore applied by the client), run by Hull's builder;
 * the answer is docker's JSON message stream (`stream` lines, the image id
 * in `aux`). BuildKit's sessions (`version=2`) and remote contexts are not
 * Hull's: without buildx, docker's CLI uses this one.
 */
export const buildRoutes =
  (ctx: DockerCtx): FastifyPluginAsync =>
  async (app) => {
    const { images, engine } = ctx;

    app.post('/build', async (req, reply) => {
      const q = req.query as RawQuery;
      if (qStr(q, 'version') === '2') throw new DockerError(501, 'BuildKit is not supported by Hull: use the classic builder (DOCKER_BUILDKIT=0)');
      if (qStr(q, 'remote')) throw new DockerError(501, 'remote build contexts are not supported by Hull: send the context');
      const buildArgs = Object.fromEntries(Object.entries(qJson(q, 'buildargs', StrMap) ?? {}).filter((e): e is [string, string] => e[1] !== null));
      if (!req.body || typeof (req.body as NodeJS.ReadableStream).pipe !== 'function') throw new DockerError(400, 'send the build context as the body (application/x-tar)');
      const quiet = qBool(q, 'q');
      await mkdir(images.content.tmpDir, { recursive: true });
      const work = await mkdtemp(join(images.content.tmpDir, 'build-'));
      return jsonMessageStream(reply, async (send, signal) => {
        try {
          const contextDir = join(work, 'context');
          await extractContext(req.body as NodeJS.ReadableStream, contextDir);
          const name = qStr(q, 'dockerfile') || 'Dockerfile';
          const dockerfile = await readFile(await resolveInRoot(contextDir, name), 'utf8').catch(() => {
            throw new DockerError(400, `Cannot locate specified Dockerfile: ${name}`);
          });
          const onEvent = quiet ? () => undefined : (e: Parameters<typeof buildMessage>[0]) => send(buildMessage(e));
          const builder = images.builder(buildContainers(engine));
          const image = await builder.build({ contextDir, dockerfile, tags: qList(q, 't'), buildArgs, noCache: qBool(q, 'nocache'), target: qStr(q, 'target') || undefined, onEvent, signal });
          send({ aux: { ID: image.id } });
          if (quiet) send({ stream: `${image.id}\n` });
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      });
    });

    app.post('/build/prune', async () => {
      const r = await images.pruneBuildCache();
      return { CachesDeleted: [], SpaceReclaimed: r.spaceReclaimed };
    });

    app.post('/session', async () => {
      throw new DockerError(501, 'BuildKit sessions are not supported by Hull');
    });
  };
