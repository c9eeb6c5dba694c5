import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError, conflict, invalid, notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { Instance } from '../../core/instance.js';
import { KeyedLock } from '../../core/keyed-lock.js';
import { Reverter } from '../../core/reverter.js';
import { checkVolumeName, type Volume, type VolumeDriver } from '../../core/volume.js';
import type { EventSink } from '../../core/events.js';
import type { Store } from '../../store/store.js';
import * as block from './block.js';
import * as local from './local.js';
import { isMounted } from './mounts.js';
import { revokeDisk } from './disk-access.js';
import * as backup from './backup.js';
import * as snapshots from './snapshots.js';
import type { Readable } from 'node:stream';
import { run } from '../../sys/run.js';
import { VolumePaths } from './paths.js';

export interface VolumeCreate {
  name?: string;
  driver?: VolumeDriver;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  sizeBytes?: number;
  anonymous?: boolean;
}

/** Who uses a volume: the instances whose records name it (running or not). */
export interface VolumeUser {
  id: string;
  name: string;
  type: Instance['type'];
  status: string;
}

const live = (i: Instance) => i.state.status === 'running' || i.state.status === 'paused';
/** A block volume no size was given for. */
export const DEFAULT_BLOCK_SIZE = 1024 ** 3;

/**
 * Volumes as records in the store (kind `volume`) with their files under
 * <root>/volumes/<id>/. This class keeps the records and the one-owner rule;
 * local.ts and block.ts do the files and mounts of each kind.
 *
 *   create → record `creating`, files, `ready` (a daemon killed between leaves
 *            a `creating` record that recover() removes with its files)
 *   claimHost / releaseHost   a container's start and exit: a block volume's
 *            (or a tmpfs/bind local volume's) host mount, counted by holder
 *   claimVm / releaseVm       a VM's start, hot attach, exit and detach
 *   remove   refused while any instance's record names the volume
 */
export class Volumes {
  private lock = new KeyedLock();

  constructor(
    readonly root: string,
    private store: Store,
    /** Where docker's volume events go: create when one is made (by name, anonymous, or on first use), destroy when removed. */
    private events?: EventSink,
  ) {}

  private emit(action: 'create' | 'destroy', v: Volume): void {
    this.events?.publish('volume', action, v.name, { driver: v.driver });
  }

  paths(v: Pick<Volume, 'id' | 'driver' | 'options'>): VolumePaths {
    return new VolumePaths(this.root, v);
  }

  async create(req: VolumeCreate): Promise<Volume> {
    const driver = req.driver ?? 'local';
    const options = { ...(req.options ?? {}) };
    const sizeBytes = this.checkCreate(driver, options, req.sizeBytes);
    const id = newId();
    const name = req.name ?? id;
    checkVolumeName(name);
    const existing = await this.store.getByName<Volume>('volume', name);
    if (existing && existing.status === 'ready' && existing.driver === driver && !req.sizeBytes && !Object.keys(options).length) return existing;
    if (existing) throw conflict(`volume name "${name}" is already in use${existing.driver !== driver ? ` (by a ${existing.driver} volume)` : ''}`);
    const v: Volume = { id, name, driver, createdAt: new Date().toISOString(), labels: req.labels ?? {}, options, sizeBytes, anonymous: !!req.anonymous, status: 'creating' };
    const r = new Reverter();
    try {
      await this.store.create('volume', id, name, v);
      r.add(() => this.store.delete('volume', id));
      const p = this.paths(v);
      r.add(() => rm(p.dir, { recursive: true, force: true }));
      if (driver === 'block') await block.create(p, sizeBytes!);
      else await local.create(p);
      const done = await this.store.update<Volume>('volume', id, (cur) => ({ ...cur, status: 'ready' }));
      r.success();
      this.emit('create', done);
      return done;
    } finally {
      await r.revert();
    }
  }

  private checkCreate(driver: VolumeDriver, options: Record<string, string>, sizeBytes: number | undefined): number | undefined {
    if (driver === 'local') {
      if (sizeBytes !== undefined) throw invalid('a local volume has no size: give a tmpfs one a limit with --opt type=tmpfs --opt device=tmpfs --opt o=size=64m, or use --driver block');
      local.checkOptions(options);
      return undefined;
    }
    for (const k of Object.keys(options)) if (!['size', 'format'].includes(k)) throw invalid(`block volume option "${k}" is not known (size, format)`);
    if (options.format !== undefined && options.format !== 'qcow2' && options.format !== 'raw') throw invalid('block volume format must be qcow2 or raw');
    const size = sizeBytes ?? (options.size ? Number(options.size) : DEFAULT_BLOCK_SIZE);
    delete options.size;
    if (!Number.isSafeInteger(size) || size < 16 * 1024 * 1024) throw invalid('a block volume is at least 16 MiB');
    return size;
  }

  /** By name, full id or unique id prefix; only volumes that are ready. */
  async get(ref: string): Promise<Volume> {
    const v = (await this.store.getByName<Volume>('volume', ref)) ?? (await this.store.get<Volume>('volume', ref)) ?? (await this.byPrefix(ref));
    if (!v || v.status !== 'ready') throw notFound(`volume "${ref}"`);
    return v;
  }

  private async byPrefix(ref: string): Promise<Volume | undefined> {
    if (!/^[0-9a-f]{3,64}$/.test(ref)) return undefined;
    const xs = (await this.store.list<Volume>('volume')).filter((v) => v.id.startsWith(ref));
    if (xs.length > 1) throw invalid(`"${ref}" matches ${xs.length} volumes: use more of the id`);
    return xs[0];
  }

  async getById(id: string): Promise<Volume | undefined> {
    return this.store.get<Volume>('volume', id);
  }

  async list(): Promise<Volume[]> {
    return (await this.store.list<Volume>('volume')).filter((v) => v.status === 'ready');
  }

  /** The instances whose records name the volume: mounts of containers, disks of VMs. */
  async users(v: Volume): Promise<VolumeUser[]> {
    const xs = await this.store.list<Instance>('instance');
    return xs
      .filter((i) => (i.config.mounts ?? []).some((m) => m.volumeId === v.id) || (i.config.disks ?? []).some((d) => d.volumeId === v.id))
      .map((i) => ({ id: i.id, name: i.name, type: i.type, status: i.state.status }));
  }

  async inspect(ref: string) {
    const v = await this.get(ref);
    const p = this.paths(v);
    return { ...v, mountpoint: p.hostDir, ...(v.driver === 'block' ? { disk: p.disk, format: p.format } : {}), usedBy: await this.users(v) };
  }

  /** `volume rm`: refused while an instance's record names it (docker's rule; -f does not override it). */
  async remove(ref: string): Promise<void> {
    const v = await this.get(ref);
    await this.lock.run(v.id, async () => {
      const users = await this.users(v);
      if (users.length) {
        const who = users.map((u) => `${u.type === 'vm' ? 'VM' : 'container'} ${u.name}`).join(', ');
        const vms = users.some((u) => u.type === 'vm');
        throw conflict(`volume ${v.name} is in use by ${who}: remove ${users.length > 1 ? 'them' : 'it'} first${vms ? ' (or hull vm disk detach)' : ''}`);
      }
      await this.store.update<Volume>('volume', v.id, (cur) => ({ ...cur, status: 'removing' }));
      await this.destroy(v);
      this.emit('destroy', v);
    });
  }

  /** Unmount and delete the files, then the record (the order recover() finishes after a kill). */
  private async destroy(v: Volume): Promise<void> {
    await removeDir(this.paths(v).dir);
    await this.store.delete('volume', v.id);
  }

  /** `volume prune`: unused anonymous volumes, or (all) every unused one, as docker 23+. */
  async prune(all = false): Promise<string[]> {
    const gone: string[] = [];
    for (const v of await this.list()) {
      if (!all && !v.anonymous) continue;
      if ((await this.users(v)).length) continue;
      await this.remove(v.id).then(() => gone.push(v.name), () => undefined);
    }
    return gone;
  }

  /** A named volume used by `-v NAME:/path` before it exists is made then, as docker does. */
  async ensure(name: string, options: Record<string, string> = {}): Promise<{ volume: Volume; made: boolean }> {
    checkVolumeName(name);
    const cur = await this.store.getByName<Volume>('volume', name);
    if (cur?.status === 'ready') return { volume: cur, made: false };
    const { driver, ...opts } = options;
    return { volume: await this.create({ name, driver: (driver as VolumeDriver) || 'local', options: opts }), made: true };
  }

  // ---- snapshots and backups (snapshots.ts, backup.ts) ----

  /** Running instances that use the volume now (the ones a restore or a block export must wait for). */
  async runningUsers(v: Volume): Promise<VolumeUser[]> {
    return (await this.users(v)).filter((u) => u.status === 'running' || u.status === 'paused');
  }

  private async mustBeIdle(v: Volume, what: string): Promise<void> {
    const busy = await this.runningUsers(v);
    if (busy.length) throw new HullError('wrong_state', `volume ${v.name} is in use by running ${busy.map((u) => `${u.type === 'vm' ? 'VM' : 'container'} ${u.name}`).join(', ')}: stop ${busy.length > 1 ? 'them' : 'it'} to ${what}`);
  }

  snapshotList(v: Volume) {
    return snapshots.list(v, this.paths(v));
  }

  /** Not while a VM holds a block volume (the engine takes that one through QEMU) or containers have it mounted. */
  async snapshotCreate(v: Volume, name: string): Promise<void> {
    await this.lock.run(v.id, async () => {
      if (v.driver === 'block') await this.mustBeIdle(v, 'take a snapshot (or take it while a running VM has it attached)');
      await snapshots.create(v, this.paths(v), name);
    });
  }

  async snapshotRestore(v: Volume, name: string): Promise<void> {
    await this.lock.run(v.id, async () => {
      await this.mustBeIdle(v, 'restore a snapshot');
      await snapshots.restore(v, this.paths(v), name);
    });
  }

  async snapshotDelete(v: Volume, name: string): Promise<void> {
    await this.lock.run(v.id, async () => {
      if (v.driver === 'block') await this.mustBeIdle(v, 'delete a snapshot');
      await snapshots.remove(v, this.paths(v), name);
    });
  }

  /** The volume as a tar stream: a local one any time (read through handles), a block one while no one runs with it. */
  async export(v: Volume): Promise<Readable> {
    const p = this.paths(v);
    if (v.driver === 'local') {
      if (local.mounted(v.options)) throw invalid(`volume ${v.name} is a ${v.options.type} local volume: export what a container sees instead (hull cp)`);
      return backup.exportLocal(p);
    }
    await this.mustBeIdle(v, 'export it');
    return this.lock.run(v.id, () => backup.exportBlock(v, p));
  }

  /** A new volume `name` from an export (local or block, told by the archive's first entry). */
  async import(name: string, archive: Readable, labels: Record<string, string> = {}): Promise<Volume> {
    checkVolumeName(name);
    if (await this.store.getByName('volume', name)) throw conflict(`volume name "${name}" is already in use`);
    const isBlock = (await backup.firstEntryName(archive)) === backup.BLOCK_META;
    if (!isBlock) {
      const v = await this.create({ name, labels });
      try {
        await backup.importLocal(this.paths(v), archive);
        return v;
      } catch (e) {
        await this.remove(v.id).catch(() => undefined);
        throw e;
      }
    }
    const tmp = join(this.root, 'volumes', `.import-${newId().slice(0, 12)}.qcow2`);
    try {
      const meta = await backup.importBlock(archive, tmp);
      const v = await this.create({ name, labels, driver: 'block', sizeBytes: Math.max(meta.sizeBytes, 16 * 1024 * 1024), options: meta.format === 'raw' ? { format: 'raw' } : {} });
      const p = this.paths(v);
      await run(['qemu-img', 'convert', '-q', '-f', 'qcow2', '-O', p.format, tmp, p.disk], { timeoutMs: 3_600_000 }).catch(async (e: unknown) => {
        await this.remove(v.id).catch(() => undefined);
        throw e;
      });
      return v;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  // ---- the one-owner rule ----

  private async liveIds(): Promise<Map<string, Instance>> {
    return new Map((await this.store.list<Instance>('instance')).filter(live).map((i) => [i.id, i]));
  }

  /** A running container's use of a volume that needs a host mount (a block volume, a tmpfs/bind local one). */
  async claimHost(volumeId: string, instId: string): Promise<VolumePaths> {
    return this.lock.run(volumeId, async () => {
      const running = await this.liveIds();
      const v = await this.store.update<Volume>('volume', volumeId, (cur) => {
        const h = cur.holder;
        const holders = (h?.ids ?? []).filter((id) => running.has(id) || id === instId);
        if (h?.kind === 'vm' && holders.length) {
          const vm = running.get(holders[0]);
          const who = vm?.type === 'container' ? `is in use by running VM-isolated container ${vm.name}: stop it first` : `is attached to running VM ${vm?.name ?? holders[0]}: detach it or stop the VM first`;
          throw new HullError('conflict', `block volume ${cur.name} ${who} (two kernels never mount one ext4)`);
        }
        return { ...cur, holder: { kind: 'host', ids: [...new Set([...(h?.kind === 'host' ? holders : []), instId])] } };
      });
      const p = this.paths(v);
      try {
        if (v.driver === 'block') await block.hostMount(p, v.name);
        else await local.hostMount(p, v.name);
      } catch (e) {
        await this.dropHolder(volumeId, instId);
        throw e instanceof HullError ? e : new HullError('internal', String(e));
      }
      return p;
    });
  }

  /** A container let go (it exited): the host mount goes with the last holder. */
  async releaseHost(volumeId: string, instId: string): Promise<void> {
    await this.lock.run(volumeId, async () => {
      const v = await this.dropHolder(volumeId, instId);
      if (!v || v.holder?.ids.length) return;
      const p = this.paths(v);
      if (v.driver === 'block') await block.hostUnmount(p);
      else await local.hostUnmount(p);
    });
  }

  /** A VM starts with, or is hot-attached, a block volume: nobody else may have it. `fresh`: it did not hold it already. */
  async claimVm(volumeId: string, vm: Instance): Promise<VolumePaths & { fresh?: boolean }> {
    return this.lock.run(volumeId, async () => {
      const running = await this.liveIds();
      const before = await this.store.get<Volume>('volume', volumeId);
      const fresh = !(before?.holder?.kind === 'vm' && before.holder.ids.includes(vm.id));
      const v = await this.store.update<Volume>('volume', volumeId, (cur) => {
        if (cur.driver !== 'block') throw invalid(`volume ${cur.name} is a local volume: a VM takes block volumes (hull volume create --driver block)`);
        const others = (cur.holder?.ids ?? []).filter((id) => id !== vm.id && running.has(id));
        if (others.length) {
          const who = others.map((id) => `${running.get(id)!.type === 'vm' ? 'VM' : 'container'} ${running.get(id)!.name}`).join(', ');
          throw new HullError('conflict', `block volume ${cur.name} is in use by ${who}: one kernel at a time mounts it`);
        }
        return { ...cur, holder: { kind: 'vm', ids: [vm.id] } };
      });
      const p = this.paths(v);
      // Left mounted by containers that are gone (a daemon killed meanwhile): the host lets go first.
      if (fresh) await block.hostUnmount(p);
      return Object.assign(p, { fresh });
    });
  }

  /** The VM (or VM-isolated container) let go: the disk file is root's again (disk-access.ts). */
  async releaseVm(volumeId: string, vmId: string): Promise<void> {
    await this.lock.run(volumeId, async () => {
      const v = await this.dropHolder(volumeId, vmId);
      if (v?.driver === 'block' && !v.holder) await revokeDisk(this.paths(v).disk);
    });
  }

  private async dropHolder(volumeId: string, instId: string): Promise<Volume | undefined> {
    if (!(await this.store.get('volume', volumeId))) return undefined;
    return this.store.update<Volume>('volume', volumeId, (cur) => {
      const ids = (cur.holder?.ids ?? []).filter((id) => id !== instId);
      return { ...cur, holder: ids.length ? { kind: cur.holder!.kind, ids } : undefined };
    });
  }

  // ---- daemon start ----

  /**
   * After a daemon was killed: half-made volumes go (records `creating`, and
   * directories with no record); half-removed ones are finished; holders that
   * no longer run are dropped, and a host mount no running container uses is
   * undone. Mounts a running container or VM still uses stay as they are.
   */
  async recover(log: (msg: string, o: object) => void): Promise<void> {
    const running = await this.liveIds();
    const records = await this.store.list<Volume>('volume');
    for (const v of records) {
      if (v.status !== 'ready') {
        log('removing a half-made or half-removed volume', { id: v.id, name: v.name, status: v.status });
        await this.destroy(v).catch((e: unknown) => log('volume cleanup failed', { id: v.id, err: String(e) }));
        continue;
      }
      const holders = (v.holder?.ids ?? []).filter((id) => running.has(id));
      if (holders.length === (v.holder?.ids.length ?? 0)) continue;
      await this.store.update<Volume>('volume', v.id, (cur) => ({ ...cur, holder: holders.length ? { kind: cur.holder!.kind, ids: holders } : undefined }));
      if (!holders.length && v.holder?.kind === 'host') {
        const p = this.paths(v);
        await (v.driver === 'block' ? block.hostUnmount(p) : local.hostUnmount(p)).catch((e: unknown) => log('volume unmount failed', { id: v.id, err: String(e) }));
      }
    }
    const known = new Set(records.map((v) => v.id));
    for (const d of await readdir(join(this.root, 'volumes')).catch(() => [] as string[])) {
      if (/^[0-9a-f]{64}$/.test(d) && !known.has(d)) await removeDir(join(this.root, 'volumes', d)).catch((e: unknown) => log('volume cleanup failed', { dir: d, err: String(e) }));
    }
  }
}

/**
 * A volume's directory goes only once nothing is mounted in it: a recursive
 * delete through a bind volume's mount would delete the host directory's files.
 */
async function removeDir(dir: string): Promise<void> {
  for (const format of ['qcow2', 'raw'] as const) await block.hostUnmount(new VolumePaths(dir, { id: '', driver: 'block', options: { format } }, true));
  const p = new VolumePaths(dir, { id: '', driver: 'local', options: { type: 'any' } }, true);
  await local.hostUnmount(p);
  for (const m of [p.data, p.mnt, p.fuseExport]) if (await isMounted(m)) throw new HullError('internal', `${m} is still mounted: not deleting it`);
  await rm(dir, { recursive: true, force: true });
}
