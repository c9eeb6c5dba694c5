import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { anyOf, parseFilters } from '../../filters.js';
import { DockerError, orNoSuch } from '../errors.js';
import { allLabels, qBool, qList, qStr, type RawQuery } from '../query.js';
import type { DockerCtx } from '../server.js';
import { traceAs } from '../trace.js';
import { imageHistory, imageInspect, imageRow, rawConfig } from '../translate/image.js';
import { jsonMessageStream, progressMessage } from '../translate/progress.js';

/**
 * Images: list, inspect, history, pull (`/images/create`), push, tag,
 * remove, save (`get`), load, prune. An image's name may hold slashes and
 * a port (`127.0.0.1:5000/team/app:1`), which docker's clients do not
 * escape, so `/images/<name>/<verb>` is taken apart here, not by the router.
 */
export const imageRoutes =
  (ctx: DockerCtx): FastifyPluginAsync =>
  async (app) => {
    const { engine, images } = ctx;
    const useCounts = async () => {
      const m = new Map<string, number>();
      for (const i of await engine.list(true)) m.set(i.config.imageId, (m.get(i.config.imageId) ?? 0) + 1);
      return m;
    };
    const image = (name: string) => orNoSuch('image', name, () => images.resolve(name));

    app.get('/images/json', async (req) => {
      const f = parseFilters(qStr(req.query as RawQuery, 'filters'), ['dangling', 'label', 'reference', 'before', 'since']);
      const counts = await useCounts();
      const all = await images.list();
      const bound = async (k: string) => (f.get(k)?.[0] ? (await image(f.get(k)![0])).createdAt : undefined);
      const [before, since] = [await bound('before'), await bound('since')];
      return all
        .filter(
          (i) =>
            anyOf(f, 'dangling', (v) => (v === 'true' || v === '1') === (i.tags.length === 0)) &&
            allLabels(f, i.config.Labels ?? {}) &&
            anyOf(f, 'reference', (v) => i.tags.some((t) => referenceMatches(v, t))) &&
            (before === undefined || i.createdAt < before) &&
            (since === undefined || i.createdAt > since),
        )
        .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
        // Named by reference (`docker images app`), an image shows only the names that matched, as docker's does.
        .map((i) => imageRow(f.has('reference') ? { ...i, tags: i.tags.filter((t) => f.get('reference')!.some((v) => referenceMatches(v, t))) } : i, counts.get(i.id) ?? 0));
    });

    /** `docker pull` (fromImage); import from a URL or the body (fromSrc) is not Hull's. */
    app.post('/images/create', async (req, reply) => {
      const q = req.query as RawQuery;
      const from = qStr(q, 'fromImage');
      if (qStr(q, 'fromSrc') !== undefined) throw new DockerError(501, 'docker import is not supported by Hull (use docker load)');
      if (!from) throw new DockerError(400, 'fromImage is required');
      const tag = qStr(q, 'tag');
      const ref = !tag ? from : tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`;
      const platform = qStr(q, 'platform') || undefined;
      return jsonMessageStream(reply, async (send, signal) => {
        await images.registry.pull(ref, { platform, signal, onProgress: (e) => send(progressMessage(e)) });
      });
    });

    app.post('/images/load', async (req, reply) => {
      if (!req.body || typeof (req.body as NodeJS.ReadableStream).pipe !== 'function') throw new DockerError(400, 'send the archive as the body (application/x-tar)');
      return jsonMessageStream(reply, async (send) => {
        const names = new Map<string, string[]>();
        for (const i of await images.load(req.body as NodeJS.ReadableStream, (id, tags) => names.set(id, tags))) {
          const loaded = names.get(i.id) ?? [];
          if (!loaded.length) send({ stream: `Loaded image ID: ${i.id}\n` });
          for (const t of loaded) send({ stream: `Loaded image: ${t}\n` });
        }
      });
    });

    app.get('/images/get', async (req, reply) => saveReply(ctx, reply, qList(req.query as RawQuery, 'names')));

    app.post('/images/prune', async (req) => {
      const f = parseFilters(qStr(req.query as RawQuery, 'filters'), ['dangling', 'label', 'until']);
      // `docker image prune` sends dangling=true, `-a` dangling=false: every unused image.
      const all = (f.get('dangling') ?? ['true']).some((v) => v === 'false' || v === '0');
      const counts = await useCounts();
      const r = await images.prune({ all, inUse: (id) => (counts.get(id) ?? 0) > 0 });
      return { ImagesDeleted: [...r.untagged.map((u) => ({ Untagged: u })), ...r.deleted.map((d) => ({ Deleted: d }))], SpaceReclaimed: r.spaceReclaimed };
    });

    app.get('/images/search', async () => {
      throw new DockerError(501, 'docker search is not supported by Hull');
    });

    app.get('/images/*', async (req, reply) => {
      const { name, verb } = split(req);
      if (verb === 'json') return imageInspect(await image(name), await rawConfig(images, await image(name)));
      if (verb === 'history') return imageHistory(await image(name), await rawConfig(images, await image(name)));
      if (verb === 'get') return saveReply(ctx, reply, [name]);
      throw new DockerError(404, 'page not found');
    });

    app.post('/images/*', async (req, reply) => {
      const { name, verb } = split(req);
      const q = req.query as RawQuery;
      if (verb === 'tag') {
        const repo = qStr(q, 'repo');
        if (!repo) throw new DockerError(400, 'repo is required');
        await image(name);
        await images.tag(name, qStr(q, 'tag') ? `${repo}:${qStr(q, 'tag')}` : repo);
        return reply.status(201).send();
      }
      if (verb === 'push') return push(ctx, reply, name, qStr(q, 'tag'));
      throw new DockerError(404, 'page not found');
    });

    app.delete('/images/*', async (req) => {
      const name = (req.params as Record<string, string>)['*'];
      traceAs(req.raw, '/images/{name}');
      const q = req.query as RawQuery;
      const target = await image(name);
      const counts = await useCounts();
      const inUse = async (id: string) => (counts.get(id) ?? 0) > 0;
      if (!qBool(q, 'force') && (await inUse(target.id)) && !(name !== target.id && target.tags.length > 1)) {
        const user = (await engine.list(true)).find((i) => i.config.imageId === target.id);
        throw new DockerError(409, `conflict: unable to remove repository reference "${name}" (must force) - container ${user?.id.slice(0, 12)} is using its referenced image ${target.id.slice(7, 19)}`);
      }
      const r = await images.remove(name, { force: qBool(q, 'force'), inUse });
      return [...r.untagged.map((u) => ({ Untagged: u })), ...r.deleted.map((d) => ({ Deleted: d }))];
    });
  };

/** `/images/<name>/<verb>`: the name is everything before the last segment. */
function split(req: FastifyRequest): { name: string; verb: string } {
  const rest = (req.params as Record<string, string>)['*'];
  const at = rest.lastIndexOf('/');
  if (at <= 0) throw new DockerError(404, 'page not found');
  const verb = rest.slice(at + 1);
  traceAs(req.raw, `/images/{name}/${verb}`);
  return { name: rest.slice(0, at), verb };
}

async function saveReply(ctx: DockerCtx, reply: FastifyReply, names: string[]) {
  if (!names.length) throw new DockerError(400, 'name the images to save');
  for (const n of names) await orNoSuch('image', n, () => ctx.images.resolve(n));
  const stream = await ctx.images.saveArchive(names, 'docker');
  return reply.header('Content-Type', 'application/x-tar').send(stream);
}

function push(ctx: DockerCtx, reply: FastifyReply, name: string, tag: string | undefined) {
  const ref = tag ? `${name}:${tag}` : name;
  return jsonMessageStream(reply, async (send, signal) => {
    const at = ref.lastIndexOf(':') > ref.lastIndexOf('/') ? ref.slice(0, ref.lastIndexOf(':')) : ref;
    send({ status: `The push refers to repository [${at}]` });
    const out = await ctx.images.registry.push(ref, { signal, onProgress: (e) => send(progressMessage(e)) });
    send({ progressDetail: {}, aux: { Tag: tag ?? (out.name.split(':').pop() || 'latest'), Digest: out.digest, Size: out.size } });
  });
}

/** docker's reference filter: a glob over the familiar name (`busy*`, `app:1.*`); a name alone matches every tag. */
export function referenceMatches(pattern: string, tag: string): boolean {
  if (pattern.length > 256) throw new DockerError(400, 'reference filter: at most 256 characters');
  const repo = tag.slice(0, tag.lastIndexOf(':'));
  return glob(pattern, tag) || (!pattern.includes(':') && glob(pattern, repo));
}

/**
 * `*` (any run of characters but `/`) and `?` (one), matched without a
 * regular expression: the two-pointer walk takes at most |pattern| × |name|
 * steps whatever the pattern, so no filter can make the daemon backtrack.
 */
export function glob(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === '?' ? name[n] !== '/' : pattern[p] === name[n])) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = n;
    } else if (star >= 0 && name[mark] !== '/') {
      p = star + 1;
      n = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
