/**
 * Pull: `hull pull` of a 5-layer, ~200 MB image from a registry on
 * loopback (Debian's docker-registry), beside `skopeo copy` of the same
 * image into an OCI layout directory, interleaved in one run. Layers are
 * random bytes (gzip cannot shrink them), pushed once by skopeo from an OCI
 * layout built here. Then a second image sharing 4 of its 5 layers: what
 * each tool transfers for it (counted by a TCP proxy in front of the
 * registry) and how long it takes.
 *
 * Hull's pull includes unpacking the layers (a pulled image is ready to
 * run); skopeo only stores the blobs. `podman pull` (into its own overlay
 * storage under a temp dir) is the peer that does both, as Hull does. All
 * verify every blob's digest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha256 } from '../src/image/content/digest.js';
import { writeOciLayout } from '../src/image/oci-layout-writer.js';
import { MediaType } from '../src/image/oci-types.js';
import { packTar } from '../src/image/tar-pack.js';
import { BenchDaemon, Podman, busyboxRootfs, exec, log, mustExec, now, onInterrupt, ratio, sleep, stats, table, type Stats } from './lib.js';

export interface PullOptions {
  runs: number;
  layers: number;
  layerMiB: number;
}

export interface PullResult {
  image: { layers: number; bytes: number };
  runs: number;
  hull: Stats;
  skopeo: Stats;
  /** Absent when podman is not installed. */
  podman?: Stats;
  /** Hull's median over skopeo's: below 1 is faster. */
  ratio: number;
  /** Hull's median over podman's. */
  ratioPodman?: number;
  shared: { newLayerBytes: number; hull: { ms: number; bytes: number }; skopeo: { ms: number; bytes: number } };
  notes: string[];
}

export async function pullBench(o: PullOptions): Promise<PullResult> {
  const work = await mkdtemp('/tmp/hull-bench-pull-');
  let registry: ChildProcess | undefined;
  let counter: Counter | undefined;
  let d: BenchDaemon | undefined;
  let podman: Podman | undefined;
  const cleanup = async () => {
    await d?.destroy();
    await podman?.destroy();
    counter?.close();
    registry?.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  };
  const unregister = onInterrupt(cleanup);
  try {
    log('pull: building layers and pushing them with skopeo');
    const layers = await Promise.all(Array.from({ length: o.layers + 1 }, (_, i) => randomLayer(`l${i}`, o.layerMiB << 20)));
    const [a, b] = [layers.slice(0, o.layers), [...layers.slice(0, o.layers - 1), layers[o.layers]]];
    const port = await freePort();
    registry = await startRegistry(work, port);
    counter = await countingProxy(port);
    const reg = `127.0.0.1:${port}`;
    for (const [name, ls] of [['a', a], ['b', b]] as const) {
      const dir = join(work, `layout-${name}`);
      await writeOciLayout(dir, { config: configFor(ls), layers: ls.map((l) => ({ blob: l.gz, mediaType: MediaType.ociLayerGzip })), refName: name });
      await mustExec('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${dir}:${name}`, `docker://${reg}/bench/${name}:1`], { timeoutMs: 300_000 });
    }
    d = await BenchDaemon.start();
    const daemon = d;
    const hullPull = async (ref: string) => {
      const t = now();
      const r = await daemon.cli(['pull', '-q', ref], { timeoutMs: 600_000 });
      if (r.code !== 0) throw new Error(`hull pull ${ref}: ${r.stderr}`);
      return now() - t;
    };
    const skopeoCopy = async (ref: string, dir: string, tag: string) => {
      const t = now();
      await mustExec('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${dir}:${tag}`], { timeoutMs: 600_000 });
      return now() - t;
    };
    if (Podman.available()) {
      await busyboxRootfs(join(work, 'rootfs'));
      podman = await Podman.setup(join(work, 'podman'), join(work, 'rootfs'));
    }
    const pm = podman;
    const podmanPull = async (ref: string) => {
      const t = now();
      const r = await pm!.run(['pull', '-q', '--tls-verify=false', ref], 600_000);
      if (r.code !== 0) throw new Error(`podman pull ${ref}: ${r.stderr}`);
      return now() - t;
    };
    const reset = async () => {
      await daemon.cli(['rmi', '-f', `${reg}/bench/a:1`]);
      if (pm) await pm.run(['rmi', '-f', `${reg}/bench/a:1`]);
      await rm(join(work, 'oci-out'), { recursive: true, force: true });
      await exec('sync', []);
      await sleep(200);
    };

    log(`pull: ${o.runs} runs of each (plus one warm-up), interleaved`);
    const times: Record<string, number[]> = { hull: [], skopeo: [], podman: [] };
    const variants: Record<string, () => Promise<number>> = {
      hull: () => hullPull(`${reg}/bench/a:1`),
      skopeo: () => skopeoCopy(`${reg}/bench/a:1`, join(work, 'oci-out'), 'a'),
      ...(pm ? { podman: () => podmanPull(`${reg}/bench/a:1`) } : {}),
    };
    const names = Object.keys(variants);
    for (let i = 0; i <= o.runs; i++) {
      // Rotate the order each round, so drift hits every variant alike.
      for (let k = 0; k < names.length; k++) {
        const who = names[(i + k) % names.length];
        await reset();
        const ms = await variants[who]();
        if (i > 0) times[who].push(ms);
      }
    }
    const [hull, skopeo] = [times.hull, times.skopeo];

    log('pull: the image sharing 4 of 5 layers, through a byte-counting proxy');
    await reset();
    const via = `127.0.0.1:${counter.port}`;
    await hullPull(`${via}/bench/a:1`);
    counter.bytes = 0;
    const hullSharedMs = await hullPull(`${via}/bench/b:1`);
    const hullSharedBytes = counter.bytes;
    const ociDir = join(work, 'oci-shared');
    await skopeoCopy(`${via}/bench/a:1`, ociDir, 'a');
    counter.bytes = 0;
    const skopeoSharedMs = await skopeoCopy(`${via}/bench/b:1`, ociDir, 'b');
    const skopeoSharedBytes = counter.bytes;

    const bytes = a.reduce((n, l) => n + l.gz.length, 0);
    const h = stats(hull);
    const s = stats(skopeo);
    const p = pm ? stats(times.podman) : undefined;
    return {
      image: { layers: o.layers, bytes },
      runs: o.runs,
      hull: h,
      skopeo: s,
      podman: p,
      ratio: ratio(h.median, s.median),
      ratioPodman: p ? ratio(h.median, p.median) : undefined,
      shared: {
        newLayerBytes: layers[o.layers].gz.length,
        hull: { ms: Math.round(hullSharedMs), bytes: hullSharedBytes },
        skopeo: { ms: Math.round(skopeoSharedMs), bytes: skopeoSharedBytes },
      },
      notes: [
        'hull: `hull pull -q` wall time through the CLI, including unpacking every layer; skopeo: `skopeo copy docker:// oci:DIR` (blobs only); podman: `podman pull` into overlay storage (unpacked, as Hull)',
        'bytes: everything the registry sent through the proxy (HTTP headers, manifests and configs included)',
      ],
    };
  } finally {
    unregister();
    await cleanup();
  }
}

export function printPull(r: PullResult): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const rows = [
    ['hull pull', r.hull.median, r.hull.p90, r.hull.min, mb(r.image.bytes / (r.hull.median / 1000)) + '/s'],
    ['skopeo copy', r.skopeo.median, r.skopeo.p90, r.skopeo.min, mb(r.image.bytes / (r.skopeo.median / 1000)) + '/s'],
    ...(r.podman ? [['podman pull', r.podman.median, r.podman.p90, r.podman.min, mb(r.image.bytes / (r.podman.median / 1000)) + '/s']] : []),
  ];
  const shared = [
    ['hull pull', r.shared.hull.ms, mb(r.shared.hull.bytes)],
    ['skopeo copy', r.shared.skopeo.ms, mb(r.shared.skopeo.bytes)],
  ];
  return [
    `pull: ${r.image.layers} layers, ${mb(r.image.bytes)} (random, gzip), registry on loopback, ${r.runs} runs each`,
    table(['ms', 'median', 'p90', 'min', 'throughput'], rows),
    `hull / skopeo (median): ${r.ratio}${r.ratioPodman !== undefined ? `; hull / podman pull: ${r.ratioPodman}` : ''}`,
    '',
    `second image, 4 of 5 layers shared (new layer ${mb(r.shared.newLayerBytes)}):`,
    table(['', 'ms', 'transferred'], shared),
    ...r.notes.map((n) => `note: ${n}`),
  ].join('\n');
}

interface Layer {
  tar: Buffer;
  gz: Buffer;
}

async function randomLayer(name: string, bytes: number): Promise<Layer> {
  const tar = await packTar([{ header: { name: `data-${name}`, type: 'file', mode: 0o644 }, data: randomBytes(bytes) }]);
  return { tar, gz: gzipSync(tar, { level: 1 }) };
}

const configFor = (ls: Layer[]) => ({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: ls.map((l) => sha256(l.tar)) } });

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function startRegistry(work: string, port: number): Promise<ChildProcess> {
  const dir = join(work, 'registry');
  await mkdir(dir, { recursive: true });
  const config = { version: 0.1, log: { level: 'warn', accesslog: { disabled: true } }, storage: { filesystem: { rootdirectory: dir } }, http: { addr: `127.0.0.1:${port}` } };
  await writeFile(join(work, 'registry.yml'), JSON.stringify(config));
  const proc = spawn('docker-registry', ['serve', join(work, 'registry.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((r) => http.get(`http://127.0.0.1:${port}/v2/`, (res) => (res.resume(), r(true))).on('error', () => r(false)));
    if (up) return proc;
    await sleep(50);
  }
  proc.kill('SIGKILL');
  throw new Error('docker-registry did not start (apt-get install docker-registry)');
}

interface Counter {
  port: number;
  bytes: number;
  close(): void;
}

/** A TCP proxy to the registry that counts the bytes the registry sends. */
async function countingProxy(target: number): Promise<Counter> {
  const c: Counter = { port: 0, bytes: 0, close: () => server.close() };
  const server = net.createServer((client) => {
    const up = net.connect(target, '127.0.0.1');
    up.on('data', (b: Buffer) => (c.bytes += b.length));
    client.pipe(up).pipe(client);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  c.port = (server.address() as AddressInfo).port;
  return c;
}
