import { chmod, mkdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { arch, availableParallelism, hostname, totalmem } from 'node:os';
import { Nodes } from '../orchestrator/nodes/nodes.js';
import { fileURLToPath } from 'node:url';
import { buildServer, listenUnix, type DashboardStatus } from '../api/server.js';
import { startDashboard, type Dashboard } from '../web/server.js';
import { listenDocker } from '../api/docker/server.js';
import { HullError } from '../core/errors.js';
import { EventLog } from '../core/events.js';
import { Engine } from '../engine/engine.js';
import { Services } from '../engine/services.js';
import { startVms, type VmSetup } from './vms.js';
import { createLogger, type Logger } from '../engine/logger.js';
import { ImageService } from '../image/image-service.js';
import { NetworkManager } from '../net/manager.js';
import { scopeNames } from '../net/networks.js';
import { ContainerDriver } from '../runtime/oci/container-driver.js';
import { crunNamespace, ociRuntimes } from '../runtime/oci/runtimes.js';
import { detectHost, which } from '../runtime/host.js';
import { releaseHybridNamespace } from '../runtime/oci/hybrid-ns.js';
import { aliasInNamespace, runtimeRoot } from '../runtime/oci/runtime-root.js';
import { releaseCrunStdinGuard } from '../runtime/oci/stdin-guard.js';
import { openStore } from './store.js';
import { IdRanges, readPool } from '../orchestrator/instances/id-ranges.js';
import { clearStale, detectQuota } from '../storage/quota.js';
import { InstanceVolumes } from '../storage/volumes/instance-volumes.js';
import { Volumes } from '../storage/volumes/volumes.js';
import { DriverRegistry } from '../runtime/registry.js';
import { pidAlive } from '../sys/run.js';
import { isHullDaemon } from './store.js';
import { DEFAULT_ROOT, type DaemonConfig } from './config.js';
import { describeStore } from '../store/spec.js';
import type { Store } from '../store/store.js';
import type { DaemonLock } from '../store/etcd/daemon-lock.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export { VERSION } from '../core/version.js';
import { VERSION } from '../core/version.js';
export const BUILTIN_BUSYBOX = join(REPO_ROOT, 'build', 'images', 'busybox');

/**
 * Start-up order: the store (etcd: it answers, and this daemon takes the
 * prefix's lock), one daemon per root (pid file), host detection, images (the built-in busybox), engine, re-adopting what runs, the exit
 * watcher, and last the API socket. Shutdown leaves containers running:
 * conmon supervises them, and the next daemon re-adopts them.
 */
export async function startDaemon(cfg: DaemonConfig, log: Logger = createLogger()) {
  if (process.getuid?.() !== 0) throw new HullError('unavailable', 'hull daemon must run as root');
  // The store first (etcd: it answers, and this daemon holds its prefix): refused, nothing is made.
  const { store, lock } = await openStore(cfg.store, cfg.root, log);
  try {
    return await startOn(cfg, log, store, lock);
  } catch (e) {
    await store.close().catch(() => undefined);
    await lock?.release();
    throw e;
  }
}

async function startOn(cfg: DaemonConfig, log: Logger, store: Store, lock: DaemonLock | undefined) {
  await mkdir(cfg.root, { recursive: true, mode: 0o711 });
  // Container directories must be searchable by a user namespace's mapped root (--userns).
  for (const d of ['containers', 'exits', 'exec', 'runtime']) await mkdir(join(cfg.root, d), { recursive: true, mode: 0o700 });
  await chmod(cfg.root, 0o711);
  await chmod(join(cfg.root, 'containers'), 0o711);
  // Volumes and pinned bind sources are mounted by a --userns container's runtime too: searchable, not listable.
  for (const d of ['volumes', 'binds']) await mkdir(join(cfg.root, d), { recursive: true, mode: 0o711 }).then(() => chmod(join(cfg.root, d), 0o711));
  const pidFile = join(cfg.root, 'hull.pid');
  const other = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (other && other !== process.pid && pidAlive(other) && (await isHullDaemon(other))) {
    throw new HullError('conflict', `another hull daemon (pid ${other}) is using ${cfg.root}`);
  }
  await writeFile(pidFile, `${process.pid}\n`);

  const host = await detectHost();
  host.storage = await detectQuota(join(cfg.root, 'containers'));
  if (cfg.defaultStorageBytes && !host.storage.method) throw new HullError('unavailable', `--storage-opt size: ${host.storage.reason}`);
  await clearStale(host.storage);
  const rtRoot = await runtimeRoot(cfg.root).catch((e) => {
    log.warn({ err: String(e) }, `--userns containers cannot start: ${cfg.root} is not searchable by their root`);
    return undefined;
  });
  const runtimes = await ociRuntimes(cfg.root, host, (msg, e) => log.warn({ err: String(e) }, msg));
  const crunNs = crunNamespace(runtimes);
  if (rtRoot?.alias && crunNs) await aliasInNamespace((await which('nsenter')) ?? 'nsenter', crunNs, await realpath(cfg.root), rtRoot.alias);
  // One log for every event (hull events): the engine's, the images', the networks'.
  const events = new EventLog();
  const images = new ImageService(cfg.root, store, { insecureRegistries: cfg.insecureRegistries, events });
  await images.cleanupTmp();
  await images.ensureBuiltin(BUILTIN_BUSYBOX).catch((e) => log.warn({ err: String(e) }, 'built-in busybox image not imported: run `npm run setup`'));
  const driver = new ContainerDriver({ root: cfg.root, host, runtimes, conmonPath: host.conmon, runtimePath: rtRoot?.path });
  // A VM's taps belong to its QEMU's uid, which the VM drivers (started below) hand out.
  let tapOwner: VmSetup['tapOwner'];
  const net = new NetworkManager({ root: cfg.root, store, log, events, ...scopeNames(cfg.root, cfg.root === DEFAULT_ROOT), tapOwner: async (inst) => tapOwner?.(inst) });
  await net.start();
  const vms = await startVms(cfg.root, driver.exitDir, log);
  tapOwner = vms.tapOwner;
  const idRanges = new IdRanges(store, await readPool());
  const volumes = new Volumes(cfg.root, store, events);
  const storage = new InstanceVolumes(volumes);
  const why = vms.unavailable ? { vm: vms.unavailable, 'container-vm': vms.unavailable } : {};
  const drivers = new DriverRegistry({ container: driver, vm: vms.driver, 'container-vm': vms.isolated }, why);
  const engine = new Engine({ root: cfg.root, store, images, drivers, exitDir: driver.exitDir, vmImages: vms.images, vmUnavailable: vms.unavailable, host, log, net, idRanges, defaultStorageBytes: cfg.defaultStorageBytes, events, logDefaults: cfg.logDefaults, volumes, storage });
  await engine.recover();
  await engine.watchExits();
  // This host's node: made on the first start, refreshed on each (a restart on a bigger machine shows its CPUs).
  const nodes = new Nodes(store, events);
  await nodes.register({ name: hostname(), platform: { os: 'linux', arch: arch() === 'x64' ? 'x86_64' : arch() }, resources: { cpus: availableParallelism(), memoryBytes: totalmem() }, engine: { version: VERSION, kernel: host.kernel } });
  const services = new Services({ engine, store, images, net, log, nodes });
  await services.start();
  let dashboard: Dashboard | undefined;
  let noDashboard = cfg.dashboard ? 'not started yet' : 'turned off (--dashboard off)';
  const dashboardStatus = (): DashboardStatus => (dashboard ? { url: dashboard.url, loginUrl: dashboard.loginUrl, reason: null } : { url: null, loginUrl: null, reason: noDashboard });
  const rotateDashboard = async (): Promise<DashboardStatus> => {
    if (!dashboard) throw new HullError('wrong_state', `no dashboard: ${noDashboard}`);
    await dashboard.rotate();
    log.info({ dashboard: dashboard.url }, 'dashboard token rotated: browsers signed in before are out');
    return dashboardStatus();
  };
  const app = await buildServer({ engine, services, images, log, version: VERSION, store: cfg.store, dashboard: { status: dashboardStatus, rotate: rotateDashboard } });
  await listenUnix(app, cfg.socketPath);
  // The dashboard talks to the API socket like any client. An address in use is said, not fatal: the daemon's work goes on.
  if (cfg.dashboard) {
    dashboard = await startDashboard({ listen: cfg.dashboard, socketPath: cfg.socketPath, root: cfg.root, assets: join(REPO_ROOT, 'dist', 'web'), log }).catch((e: Error) => {
      noDashboard = `not served: ${cfg.dashboard?.host}:${cfg.dashboard?.port}: ${e.message}`;
      log.warn({ err: e.message }, `dashboard ${noDashboard}`);
      return undefined;
    });
  }
  // The Docker Engine API, off unless asked for (`--docker-socket`): root only, as Hull's own socket.
  const docker = cfg.dockerSocket ? await listenDocker({ engine, images, log, version: VERSION }, cfg.dockerSocket) : undefined;
  // The lock lost (etcd unreachable past its lease): another daemon may take the prefix, so this one stops reconciling at once and exits (main.ts).
  const lost = new Promise<string>((resolve) =>
    lock?.onLost((why) => {
      log.error({ why, lock: lock.key }, 'STORE LOCK LOST: this daemon no longer owns its store; services are no longer reconciled and the daemon exits (containers keep running)');
      void services.close().finally(() => resolve(why));
    }),
  );
  log.info({ dashboard: dashboard?.url, store: describeStore(cfg.store), socket: cfg.socketPath, dockerSocket: cfg.dockerSocket, root: cfg.root, cgroupMode: host.cgroupMode, runtime: host.defaultRuntime, pid: process.pid }, 'hull daemon ready');

  const close = async () => {
    await dashboard?.close();
    await docker?.close();
    await app.close();
    await services.close();
    await engine.close();
    driver.close();
    await vms.driver?.close();
    await vms.isolated?.close();
    await net.shutdown();
    await nodes.down();
    await store.close();
    await lock?.release();
    await rm(cfg.socketPath, { force: true });
    await rm(pidFile, { force: true });
    await releaseCrunStdinGuard(await realpath(cfg.root));
    if (crunNs) await releaseHybridNamespace(await realpath(cfg.root));
    await rtRoot?.release();
  };
  return { engine, app, close, host, lost };
}
