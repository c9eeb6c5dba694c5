import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { isHullError } from '../../../core/errors.js';
import type { Volume } from '../../../core/volume.js';
import { volumeJson } from '../../docker-view/volume.js';
import { anyOf, nameMatches, parseFilters } from '../../filters.js';
import { atLeast } from '../api-version.js';
import { DockerError } from '../errors.js';
import { allLabels, dockerBody, nullable, qBool, qStr, type RawQuery } from '../query.js';
import type { DockerCtx } from '../server.js';

const CreateBody = z
  .object({
    Name: nullable(z.string()),
    Driver: nullable(z.string()),
    DriverOpts: nullable(z.record(z.string(), z.string())),
    Labels: nullable(z.record(z.string(), z.string())),
    ClusterVolumeSpec: nullable(z.unknown()),
  })
  .loose();

type P = { name: string };

/**
 * Volumes, Hull's (storage/volumes): docker's `local` driver is Hull's local
 * volumes (a directory, or docker's `--opt type=tmpfs|none` kinds), Hull's
 * own `block` driver is there too. Names follow docker's rule; a create for
 * a name that exists with the same driver gives that volume back, as
 * docker's does (compose relies on it).
 */
export const volumeRoutes =
  (ctx: DockerCtx): FastifyPluginAsync =>
  async (app) => {
    const vols = () => ctx.engine.volumes.store();
    const find = async (name: string) => {
      try {
        return await vols().get(name);
      } catch (e) {
        if (isHullError(e, 'not_found')) throw new DockerError(404, `get ${name}: no such volume`);
        throw e;
      }
    };
    const json = async (v: Volume) => volumeJson({ ...v, mountpoint: vols().paths(v).hostDir });

    app.get('/volumes', async (req) => {
      const f = parseFilters(qStr(req.query as RawQuery, 'filters'), ['dangling', 'driver', 'label', 'name']);
      const out = [];
      for (const v of await vols().list()) {
        const used = (await vols().users(v)).length > 0;
        const keep =
          anyOf(f, 'name', (n) => nameMatches(n, v.name)) &&
          anyOf(f, 'driver', (d) => d === v.driver) &&
          anyOf(f, 'dangling', (d) => (d === 'true' || d === '1') === !used) &&
          allLabels(f, v.labels);
        if (keep) out.push(await json(v));
      }
      return { Volumes: out, Warnings: null };
    });

    app.post('/volumes/create', async (req, reply) => {
      const b = dockerBody(CreateBody, req.body, 'volume create request');
      if (b.ClusterVolumeSpec) throw new DockerError(501, 'cluster volumes (Swarm) are not supported by Hull');
      const driver = b.Driver || 'local';
      if (driver !== 'local' && driver !== 'block') throw new DockerError(501, `volume driver "${driver}" is not supported by Hull (local, or Hull's block)`);
      const v = await vols().create({ ...(b.Name ? { name: b.Name } : {}), driver, labels: b.Labels ?? {}, options: b.DriverOpts ?? {} });
      return reply.status(201).send(await json(v));
    });

    app.get('/volumes/:name', async (req) => json(await find((req.params as P).name)));

    app.delete('/volumes/:name', async (req, reply) => {
      // With force, a volume that is not there is not an error (docker's -f).
      const v = await find((req.params as P).name).catch((e: unknown) => {
        if (qBool(req.query as RawQuery, 'force') && e instanceof DockerError && e.status === 404) return undefined;
        throw e;
      });
      if (!v) return reply.status(204).send();
      await vols()
        .remove(v.id)
        .catch((e: unknown) => {
          if (isHullError(e, 'conflict')) throw new DockerError(409, `remove ${v.name}: volume is in use - ${e.message}`);
          throw e;
        });
      return reply.status(204).send();
    });

    /** docker's prune: from API 1.42 anonymous volumes only unless `all=true`, before it every unused one; labels narrow it. */
    app.post('/volumes/prune', async (req) => {
      const f = parseFilters(qStr(req.query as RawQuery, 'filters'), ['label', 'all']);
      const all = f.has('all') ? (f.get('all') ?? []).some((v) => v === 'true' || v === '1') : !atLeast(req.raw, '1.42');
      const labelled = f.has('label') ? new Set((await vols().list()).filter((v) => allLabels(f, v.labels)).map((v) => v.name)) : undefined;
      const deleted: string[] = [];
      for (const v of await vols().list()) {
        if ((!all && !v.anonymous) || (labelled && !labelled.has(v.name)) || (await vols().users(v)).length) continue;
        const gone = await vols()
          .remove(v.id)
          .then(() => true)
          .catch(() => false);
        if (!gone) continue;
        deleted.push(v.name);
      }
      return { VolumesDeleted: deleted, SpaceReclaimed: 0 };
    });

    app.put('/volumes/:name', async () => {
      throw new DockerError(501, 'cluster volumes (Swarm) are not supported by Hull');
    });
  };
