/**
 * Services, each figure beside its peer from the same run:
 *
 *   rolling update   requests failed while 5 replicas roll over under a steady load (wrk through
 *                    the published port): Hull's rolling update (start-first, drain before stop)
 *                    beside the same update done as a recreate (all stopped, then all started:
 *                    what `docker compose up` does to a changed service). Goal: 0 failed.
 *   replacement      a replica's process SIGKILLed → its replacement answering HTTP, beside
 *                    podman's `--restart always` container killed the same way. Goal: < 2 s.
 *   scale 0 → 50     a service scaled from 0 to 50 replicas, all ready (a tcp check from the
 *                    host), beside 50 sequential `podman run -d` of the same image and command.
 *                    Goal: at most half of podman's time.
 *   placement        the placement function alone on 5,000 simulated nodes and 150,000
 *                    replicas (bench/placement.ts), beside exhaustive scoring. Goal ≥ 10,000/s.
 *
 * BENCH_SVC_WRK_SECONDS sets the load's length (default 20), BENCH_SVC_SCALE the scale-up (50).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { BenchDaemon, Podman, busyboxRootfs, exec, log, now, ratio, sleep, stats, table, type Stats } from './lib.js';
import { placementBench, printPlacement, type PlacementResult } from './placement.js';

const num = (v: string | undefined, dflt: number) => (v && Number.isFinite(Number(v)) ? Number(v) : dflt);
const PORT = 18990;

export interface ServicesResult {
  rolling: { hull: WrkResult; recreate: WrkResult; seconds: number };
  replacement: { hullMs: Stats; podmanMs: Stats | null; ratio: number };
  scale: { replicas: number; hullMs: number; podmanMs: number | null; ratio: number };
  placement: PlacementResult;
  errors: string[];
}

interface WrkResult {
  requests: number;
  failed: number;
  detail: string;
}

const file = (o: { version: string; order: string; parallelism: number; replicas: number; port?: number }) => `
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo ${o.version} $$HOSTNAME > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    ${o.port ? `ports: ["${o.port}:80"]` : ''}
    stop_grace_period: 2s
    deploy:
      replicas: ${o.replicas}
      update_config: { parallelism: ${o.parallelism}, order: ${o.order}, monitor: 1s }
    x-hull:
      healthcheck: { http: { port: 80, path: / }, interval: 500ms, retries: 1 }
`;

export async function servicesBenchmark(): Promise<{ result: ServicesResult; text: string }> {
  const errors: string[] = [];
  const placement = placementBench();
  const d = await BenchDaemon.start();
  const dir = join(await mkdtemp('/tmp/hb-svc-'), 'bench');
  await mkdir(dir);
  const podDir = await mkdtemp('/tmp/hb-pod-');
  let podman: Podman | undefined;
  const apply = async (yaml: string) => {
    await writeFile(join(dir, 'compose.yaml'), yaml);
    const r = await d.cli(['apply', '-f', join(dir, 'compose.yaml')]);
    if (r.code !== 0) throw new Error(`hull apply: ${r.stderr}`);
  };
  const summary = async () => JSON.parse((await d.cli(['service', 'ls', '--format', 'json'])).stdout)[0] as { ready: number; replicas: number; rollout: string; revision: number };
  const settled = async (n: number, timeoutMs = 300_000) => {
    const end = now() + timeoutMs;
    for (;;) {
      const s = await summary();
      if (s.ready === n && s.replicas === n && s.rollout === 'complete') return;
      if (now() > end) throw new Error(`service not settled at ${n}: ${JSON.stringify(s)}`);
      await sleep(100);
    }
  };
  try {
    const seconds = num(process.env.BENCH_SVC_WRK_SECONDS, 20);
    // ---- rolling update under load, and the recreate beside it
    const rollUnderLoad = async (version: string, order: string, parallelism: number) => {
      await apply(file({ version: 'base', order, parallelism, replicas: 5, port: PORT }));
      await settled(5);
      const wrk = exec('wrk', ['-t1', '-c8', `-d${seconds}s`, `http://127.0.0.1:${PORT}/`], { timeoutMs: (seconds + 60) * 1000 });
      await sleep(2000);
      await apply(file({ version, order, parallelism, replicas: 5, port: PORT }));
      await settled(5);
      return parseWrk((await wrk).stdout);
    };
    const hull = await rollUnderLoad('v1', 'start-first', 1);
    const recreate = await rollUnderLoad('v2', 'stop-first', 0);
    // ---- a replica killed → its replacement serving
    const hullMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const rows = JSON.parse((await d.cli(['service', 'ps', 'web', '--format', 'json'])).stdout) as Array<{ name: string; addresses: Record<string, string> }>;
      const r = rows[i % rows.length];
      const ip = Object.values(r.addresses)[0];
      const pid = Number((await d.cli(['inspect', '-f', '{{.State.Pid}}', r.name])).stdout.trim());
      const t0 = now();
      process.kill(pid, 'SIGKILL');
      await sleep(50);
      await until200(`http://${ip}/`, 30_000);
      hullMs.push(now() - t0);
      await settled(5);
    }
    // ---- scale 0 → N, all ready
    const n = num(process.env.BENCH_SVC_SCALE, 50);
    await d.cli(['service', 'scale', 'web=0']);
    await settled(0);
    const t0 = now();
    await d.cli(['service', 'scale', `web=${n}`]);
    await settled(n, 600_000);
    const hullScale = now() - t0;
    await d.cli(['delete', '-f', join(dir, 'compose.yaml')], { timeoutMs: 600_000 });
    // ---- podman, the same work
    let podmanMs: number[] | null = null;
    let podmanScale: number | null = null;
    if (Podman.available()) {
      const rootfs = join(podDir, 'rootfs');
      await busyboxRootfs(rootfs);
      podman = await Podman.setup(join(podDir, 'p'), rootfs);
      const t1 = now();
      for (let i = 0; i < n; i++) {
        const r = await podman.run(['run', '-d', '--name', `b${i}`, 'hullbench-busybox', 'sh', '-c', 'echo x > /tmp/index.html; exec httpd -f -p 80 -h /tmp']);
        if (r.code !== 0) throw new Error(`podman run: ${r.stderr}`);
      }
      podmanScale = now() - t1;
      await podman.run(['rm', '-f', '-a', '-t', '0'], 300_000);
      podmanMs = [];
      const r = await podman.run(['run', '-d', '--restart', 'always', '--name', 'kept', 'hullbench-busybox', 'sh', '-c', 'echo x > /tmp/index.html; exec httpd -f -p 80 -h /tmp']);
      if (r.code !== 0) throw new Error(`podman run: ${r.stderr}`);
      for (let i = 0; i < 5; i++) {
        const ip = (await podman.run(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'kept'])).stdout.trim();
        await until200(`http://${ip}/`, 30_000);
        const pid = Number((await podman.run(['inspect', '-f', '{{.State.Pid}}', 'kept'])).stdout.trim());
        const t2 = now();
        process.kill(pid, 'SIGKILL');
        await sleep(50);
        const ip2 = await waitIp(podman, 30_000);
        await until200(`http://${ip2}/`, 30_000);
        podmanMs.push(now() - t2);
      }
    } else errors.push('podman is not installed: no peer for replacement and scale (HULL_SETUP_BENCH=1 npm run setup)');
    const hs = stats(hullMs);
    const ps = podmanMs ? stats(podmanMs) : null;
    const result: ServicesResult = {
      rolling: { hull, recreate, seconds },
      replacement: { hullMs: hs, podmanMs: ps, ratio: ps ? ratio(hs.median, ps.median) : NaN },
      scale: { replicas: n, hullMs: Math.round(hullScale), podmanMs: podmanScale === null ? null : Math.round(podmanScale), ratio: podmanScale ? ratio(hullScale, podmanScale) : NaN },
      placement,
      errors,
    };
    return { result, text: printServices(result) };
  } finally {
    await d.cli(['delete', '-f', join(dir, 'compose.yaml')], { timeoutMs: 600_000 }).catch(() => undefined);
    await d.destroy();
    await podman?.destroy();
    await rm(join(dir, '..'), { recursive: true, force: true });
    await rm(podDir, { recursive: true, force: true });
  }
}

/** wrk's totals: requests, and every failure it counts (socket errors and non-2xx/3xx answers). */
function parseWrk(out: string): WrkResult {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { requests, failed: socketErrors + non2xx, detail: `${sock ? sock[0] : 'no socket errors'}; non-2xx ${non2xx}` };
}

function until200(url: string, timeoutMs: number): Promise<void> {
  const end = now() + timeoutMs;
  const once = () =>
    new Promise<boolean>((resolve) => {
      const req = http.get(url, { agent: false, timeout: 500 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  return (async () => {
    for (;;) {
      if (await once()) return;
      if (now() > end) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
      await sleep(20);
    }
  })();
}

async function waitIp(p: Podman, timeoutMs: number): Promise<string> {
  const end = now() + timeoutMs;
  for (;;) {
    const r = await p.run(['inspect', '-f', '{{.State.Running}} {{.NetworkSettings.IPAddress}}', 'kept']);
    const [running, ip] = r.stdout.trim().split(' ');
    if (running === 'true' && ip) return ip;
    if (now() > end) throw new Error('podman did not restart its container');
    await sleep(20);
  }
}

export function printServices(r: ServicesResult): string {
  const rows = [
    ['rolling update of 5 under load: failed requests', `${r.rolling.hull.failed} of ${r.rolling.hull.requests}`, `${r.rolling.recreate.failed} of ${r.rolling.recreate.requests} (recreate)`, '', 'goal 0'],
    ['replica killed → replacement serving, ms (median)', r.replacement.hullMs.median, r.replacement.podmanMs?.median ?? null, r.replacement.ratio, 'goal < 2000 ms'],
    [`scale 0 → ${r.scale.replicas}, all ready, ms`, r.scale.hullMs, r.scale.podmanMs, r.scale.ratio, 'goal ≤ 0.5 of podman'],
  ];
  return (
    `services\n${table(['', 'Hull', 'peer', 'Hull / peer', 'goal'], rows)}\n` +
    `rolling update detail: Hull ${r.rolling.hull.detail}; recreate ${r.rolling.recreate.detail}; load ${r.rolling.seconds}s of wrk -t1 -c8\n` +
    printPlacement(r.placement) +
    (r.errors.length ? `errors: ${r.errors.join('; ')}\n` : '')
  );
}

if (process.argv[1]?.endsWith('services.js')) log('run through bench/run.js services');
