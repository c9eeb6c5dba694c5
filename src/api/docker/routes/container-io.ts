import type { FastifyPluginAsync } from 'fastify';
import { readFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { Readable } from 'node:stream';
import type { Instance } from '../../../core/instance.js';
import { parseTimeArg } from '../../../core/timestamps.js';
import { readRecords } from '../../../runtime/oci/logs.js';
import { followUntilExit, recordEncoder, startedStream } from '../../routes/log-stream.js';
import { attachContainer } from '../attach.js';
import { DockerError, dockerErrorResponse } from '../errors.js';
import { plainAnswer, runStream } from '../hijack.js';
import { container, isLive } from '../lookup.js';
import { peekStat, statHeader } from '../path-stat.js';
import { qBool, qInt, qStr, type RawQuery } from '../query.js';
import type { DockerCtx } from '../server.js';

type P = { id: string };

/** A container's streams and views: logs, attach (hijacked), resize, top, stats, archive. */
export const containerIoRoutes =
  (ctx: DockerCtx): FastifyPluginAsync =>
  async (app) => {
    const { engine } = ctx;

    app.get('/containers/:id/logs', async (req, reply) => {
      const inst = await container(engine, (req.params as P).id);
      const out = await logStream(ctx, inst, req.query as RawQuery, (f) => req.raw.on('close', f));
      reply.header('Content-Type', inst.config.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
      return reply.send(out);
    });

    /** Without `Upgrade: tcp`: the stream is the hijacked response. */
    app.post('/containers/:id/attach', async (req, reply) => {
      const id = (req.params as P).id;
      await container(engine, id);
      reply.hijack();
      const socket = req.raw.socket;
      await runStream(socket, plainAnswer(socket), (a) => attachContainer(ctx, id, req.query as RawQuery, socket, a), dockerErrorResponse);
    });

    app.post('/containers/:id/resize', async (req, reply) => {
      const q = req.query as RawQuery;
      const inst = await container(engine, (req.params as P).id);
      await engine.resize(inst.id, qInt(q, 'h', 24), qInt(q, 'w', 80));
      return reply.status(200).send();
    });

    app.get('/containers/:id/top', async (req) => {
      const inst = await container(engine, (req.params as P).id);
      if (!isLive(inst)) throw new DockerError(409, `container ${inst.id} is not running`);
      if (inst.config.isolation === 'vm') {
        // Its processes are in its VM's guest, where ps options are not taken.
        const ps = await engine.top(inst.id);
        return { Titles: ['UID', 'PID', 'TIME', 'CMD'], Processes: ps.map((p) => [p.user, String(p.pid), p.cpuTime, p.command]) };
      }
      const { titles, rows } = await engine.topPs(inst.id, [qStr(req.query as RawQuery, 'ps_args') || '-ef']);
      return { Titles: titles, Processes: rows };
    });

    app.get('/containers/:id/stats', async (req, reply) => {
      const q = req.query as RawQuery;
      const inst = await container(engine, (req.params as P).id);
      const stream = qBool(q, 'stream', true);
      if (!stream) return statsPair(ctx, inst, qBool(q, 'one-shot') ? 0 : 500);
      reply.hijack();
      reply.raw.writeHead(200, { 'Content-Type': 'application/json' });
      let prev = await sample(ctx, inst);
      const timer = setInterval(() => {
        void sample(ctx, inst).then((cur) => {
          if (!reply.raw.writableEnded) reply.raw.write(`${JSON.stringify(statsJson(inst, cur, prev))}\n`);
          prev = cur;
        });
      }, 1000);
      req.raw.on('close', () => {
        clearInterval(timer);
        reply.raw.end();
      });
    });

    app.head('/containers/:id/archive', async (req, reply) => {
      const { stat, stream } = await archiveOf(ctx, (req.params as P).id, req.query as RawQuery);
      stream.destroy();
      return reply.header('X-Docker-Container-Path-Stat', statHeader(stat)).status(200).send();
    });

    app.get('/containers/:id/archive', async (req, reply) => {
      const { stat, stream } = await archiveOf(ctx, (req.params as P).id, req.query as RawQuery);
      req.raw.on('close', () => stream.destroy());
      return reply.header('X-Docker-Container-Path-Stat', statHeader(stat)).header('Content-Type', 'application/x-tar').send(stream);
    });

    app.put('/containers/:id/archive', async (req, reply) => {
      const path = qStr(req.query as RawQuery, 'path');
      if (!path) throw new DockerError(400, 'path is required');
      const inst = await container(engine, (req.params as P).id);
      if (!req.body || typeof (req.body as NodeJS.ReadableStream).pipe !== 'function') throw new DockerError(400, 'send the archive as the body (application/x-tar)');
      await engine.copyTo(inst.id, path, req.body as NodeJS.ReadableStream);
      return reply.status(200).send();
    });

    for (const what of ['export', 'changes'] as const) {
      app.get(`/containers/:id/${what}`, async () => {
        throw new DockerError(501, `docker ${what === 'export' ? 'export' : 'diff'} is not supported by Hull`);
      });
    }
  };

async function archiveOf(ctx: DockerCtx, ref: string, q: RawQuery) {
  const path = qStr(q, 'path');
  if (!path) throw new DockerError(400, 'path is required');
  const inst = await container(ctx.engine, ref);
  return peekStat(await ctx.engine.copyFrom(inst.id, path));
}

/** docker's since/until: unix seconds (with a fraction) or RFC 3339; `0` or absent is no bound (nanoseconds out). */
function timeArg(q: RawQuery, k: 'since' | 'until'): bigint | undefined {
  const v = qStr(q, k);
  if (v === undefined || v === '' || v === '0') return undefined;
  try {
    return parseTimeArg(v, k);
  } catch (e) {
    throw new DockerError(400, (e as Error).message);
  }
}

/**
 * `docker logs`: Hull's log reader (rotated files, a tail read backwards,
 * a follow that ends with the container or the client) in docker's framing.
 * Neither stdout nor stderr named means both (dockerd refuses that; its
 * clients always name them).
 */
async function logStream(ctx: DockerCtx, inst: Instance, q: RawQuery, onClose: (f: () => void) => void): Promise<Readable> {
  const both = q.stdout === undefined && q.stderr === undefined;
  const tailText = qStr(q, 'tail');
  const tail = tailText === undefined || tailText === 'all' || tailText === '' ? undefined : qInt(q, 'tail', -1);
  const follow = qBool(q, 'follow') ? (await followUntilExit(ctx.engine, inst, onClose)).signal : undefined;
  const encode = recordEncoder({ tty: inst.config.tty, timestamps: qBool(q, 'timestamps'), stdout: both || qBool(q, 'stdout'), stderr: both || qBool(q, 'stderr') });
  const records = readRecords(ctx.engine.logPath(inst), { tail: tail !== undefined && tail >= 0 ? tail : undefined, since: timeArg(q, 'since'), until: timeArg(q, 'until'), follow });
  return startedStream(records, (rs) => encode(rs.map((r) => ({ ...r, time: dockerTime(r.time) }))));
}

/** conmon writes `+00:00`; docker writes RFC 3339 with a Z, which its clients print as is. */
const dockerTime = (t: string) => t.replace(/\+00:00$/, 'Z');

interface Sample {
  at: Date;
  cpuNs: number;
  systemNs: number;
  mem: number;
  memLimit: number;
  pids: number;
  pidsLimit: number;
}

/** The host's CPU time (all CPUs, all modes) from /proc/stat, in nanoseconds: docker's system_cpu_usage. */
async function systemCpuNs(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0];
  const jiffies = line.split(/\s+/).slice(1, 8).reduce((n, v) => n + Number(v || 0), 0);
  return jiffies * 10_000_000; // USER_HZ is 100
}

async function sample(ctx: DockerCtx, inst: Instance): Promise<Sample> {
  const [s, systemNs] = await Promise.all([ctx.engine.stats(inst.id).catch(() => ({ memoryUsage: 0, memoryLimit: 0, cpuUsageNs: 0, pids: 0, pidsLimit: 0 })), systemCpuNs()]);
  return { at: new Date(), cpuNs: s.cpuUsageNs, systemNs, mem: s.memoryUsage, memLimit: s.memoryLimit, pids: s.pids, pidsLimit: s.pidsLimit };
}

async function statsPair(ctx: DockerCtx, inst: Instance, gapMs: number) {
  const first = await sample(ctx, inst);
  if (!gapMs) return statsJson(inst, first, undefined);
  await new Promise((r) => setTimeout(r, gapMs));
  return statsJson(inst, await sample(ctx, inst), first);
}

const cpuStats = (s: Sample | undefined) => ({
  cpu_usage: { total_usage: s?.cpuNs ?? 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  system_cpu_usage: s?.systemNs ?? 0,
  online_cpus: s ? availableParallelism() : 0,
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
});

/** docker's stats document; the CLI works out CPU % from the two samples and memory from usage and limit. */
function statsJson(inst: Instance, cur: Sample, prev: Sample | undefined) {
  return {
    read: cur.at.toISOString(),
    preread: prev?.at.toISOString() ?? '0001-01-01T00:00:00Z',
    pids_stats: { current: cur.pids, ...(cur.pidsLimit > 0 ? { limit: cur.pidsLimit } : {}) },
    blkio_stats: { io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(cur),
    precpu_stats: cpuStats(prev),
    // No limit is the host's memory, as docker shows it.
    memory_stats: isLive(inst) ? { usage: cur.mem, limit: cur.memLimit > 0 && cur.memLimit < totalmem() ? cur.memLimit : totalmem(), stats: {} } : {},
    name: `/${inst.name}`,
    id: inst.id,
  };
}
