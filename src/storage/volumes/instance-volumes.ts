import { chown, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HullError, invalid } from '../../core/errors.js';
import type { Instance } from '../../core/instance.js';
import type { MountRequest } from '../../core/mount-spec.js';
import { Reverter } from '../../core/reverter.js';
import { checkTarget, type InstanceMount } from '../../core/volume.js';
import { extractTo, packPath } from '../archive.js';
import { RootDir, type IdMap, type RootMount } from '../root-dir.js';
import { stage, stageShare, unstage, unstageShare } from './bind-stage.js';
import * as local from './local.js';
import * as block from './block.js';
import { statSync, type Stats } from 'node:fs';
import type { Volumes } from './volumes.js';

/** A mount as the OCI runtime takes it (config.json's `mounts`). */
export interface OciMountSpec {
  destination: string;
  source: string;
  type: string;
  options: string[];
}

/** A block volume a VM opens as a disk; for a VM-isolated container, where its guest mounts it. */
export interface VmDisk {
  volumeId: string;
  name: string;
  path: string;
  format: 'qcow2' | 'raw';
  target?: string;
  readOnly?: boolean;
}

/**
 * A host directory a VM-isolated container's guest mounts over virtiofs (a
 * local volume or a bind): `source` is Hull's pinned mount of it
 * (<root>/binds/<id>/<n>, read-only there when the mount is), `file` when the
 * bind is of a single file, staged as `source`/f.
 */
export interface VmShare {
  source: string;
  target: string;
  readOnly: boolean;
  file: boolean;
}

/** What an instance's start gets from its volumes: the container's mounts, or the VM's disks (and a VM-isolated container's shares). */
export interface StorageContext {
  mounts: OciMountSpec[];
  disks: VmDisk[];
  shares?: VmShare[];
}

export interface PlanInput {
  mounts: MountRequest[];
  volumesFrom: string[];
  /** The image's VOLUME paths: an anonymous volume each, unless a mount covers it. */
  imageVolumes: string[];
}

/**
 * An instance's volumes through its life, called by the engine at each step:
 *
 *   plan   at create: requests → InstanceMount[] (named volumes made on first
 *          use, anonymous ones for `-v /path` and the image's VOLUMEs,
 *          `--volumes-from` copied, bind sources checked); undone on failure
 *   seed   at create: an empty local volume gets the image's files at its target
 *   up     at start: host mounts claimed, binds pinned → OCI mounts; a VM's disks claimed
 *   down   at exit: the claims and pins let go
 *   forget at rm: `-v` removes the anonymous volumes no one else uses
 */
export class InstanceVolumes {
  constructor(private volumes: Volumes) {}

  private get root(): string {
    return this.volumes.root;
  }

  async plan(input: PlanInput, lookup: (ref: string) => Promise<Instance>, r: Reverter, isolated = false): Promise<InstanceMount[]> {
    const out = await this.planAll(input, lookup, r, isolated);
    if (isolated) await this.checkIsolated(out);
    return out;
  }

  /**
   * What a VM-isolated container's guest can mount: block volumes (disks),
   * tmpfs, and directories or files shared over virtiofs (local volumes,
   * binds); a bind of a socket or device cannot cross into a VM.
   */
  private async checkIsolated(mounts: InstanceMount[]): Promise<void> {
    for (const m of mounts) {
      if (m.type !== 'bind') continue;
      const st = statOf(m.source);
      if (st && !st.isDirectory() && !st.isFile()) throw invalid(`bind ${m.source} at ${m.target}: a VM-isolated container takes directories and regular files only (a socket or device cannot be shared into its VM)`);
    }
  }

  private async planAll(input: PlanInput, lookup: (ref: string) => Promise<Instance>, r: Reverter, isolated: boolean): Promise<InstanceMount[]> {
    const out: InstanceMount[] = [];
    const targets = new Set<string>();
    const add = (m: InstanceMount) => {
      if (targets.has(m.target)) throw invalid(`duplicate mount point ${m.target}`);
      targets.add(m.target);
      out.push(m);
    };
    const anonymous = isolated ? { driver: 'block' } : undefined;
    for (const req of input.mounts) add(await this.resolve({ ...req, target: checkTarget(req.target), ...(isolated && req.type === 'volume' && !req.source ? { volumeOptions: { ...anonymous, ...req.volumeOptions } } : {}) }, r));
    for (const spec of input.volumesFrom) {
      const [ref, mode] = spec.split(':');
      const from = await lookup(ref);
      for (const m of from.config.mounts ?? []) {
        if (m.type === 'tmpfs' || targets.has(m.target)) continue;
        add({ ...m, readOnly: mode === 'ro' ? true : mode === 'rw' ? false : m.readOnly });
      }
    }
    for (const path of input.imageVolumes) {
      const target = checkTarget(path);
      if (!targets.has(target)) add(await this.resolve({ type: 'volume', source: '', target, readOnly: false, ...(anonymous ? { volumeOptions: anonymous } : {}) }, r));
    }
    return out;
  }

  private async resolve(m: InstanceMount, r: Reverter): Promise<InstanceMount> {
    if (m.type === 'tmpfs') return m;
    if (m.type === 'bind') {
      if (!m.source.startsWith('/') || m.source.includes('\0')) throw invalid(`bind source ${JSON.stringify(m.source)} must be an absolute host path`);
      if (!m.createHostPath && !exists(m.source)) throw invalid(`bind source path does not exist: ${m.source}`);
      return m;
    }
    if (!m.source) {
      const v = await this.volumes.create({ anonymous: true, ...(m.volumeOptions?.driver ? { driver: m.volumeOptions.driver as 'local' | 'block' } : {}) });
      r.add(() => this.volumes.remove(v.id));
      return { ...m, source: v.name, volumeId: v.id, driver: v.driver };
    }
    const { volume, made } = await this.volumes.ensure(m.source, m.volumeOptions);
    if (made) r.add(() => this.volumes.remove(volume.id));
    return { ...m, volumeId: volume.id, driver: volume.driver };
  }

  /**
   * docker's copy-up: a local volume that is empty gets what the image has at
   * its target (owners, modes, times, links), read and written through
   * directory handles (root-dir.ts). `rootfs` is the container's root, mounted.
   * With a user namespace (`ids`) the files go to the container's ids, and an
   * empty volume's root to its root user (docker does the same), so the
   * container can write in it.
   */
  async seed(inst: Instance, rootfs: string, ids?: IdMap): Promise<void> {
    for (const m of inst.config.mounts ?? []) {
      if (m.type !== 'volume' || !m.volumeId) continue;
      const v = await this.volumes.getById(m.volumeId);
      if (!v || v.driver !== 'local' || local.mounted(v.options)) continue;
      const data = this.volumes.paths(v).data;
      if ((await readdir(data)).length) continue;
      if (!m.noCopy) await copyTree(rootfs, m.target, data, ids);
      if (ids && (await stat(data)).uid === 0) await chown(data, ids.hostId, ids.hostId);
    }
  }

  async up(inst: Instance): Promise<StorageContext> {
    const r = new Reverter();
    try {
      const ctx: StorageContext =
        inst.type === 'vm' ? { mounts: [], disks: await this.disksUp(inst, r) } : inst.config.isolation === 'vm' ? await this.isolatedUp(inst, r) : { mounts: await this.mountsUp(inst, r), disks: [] };
      r.success();
      return ctx;
    } finally {
      await r.revert();
    }
  }

  private async mountsUp(inst: Instance, r: Reverter): Promise<OciMountSpec[]> {
    const out: OciMountSpec[] = [];
    for (const [i, m] of (inst.config.mounts ?? []).entries()) {
      if (m.type === 'tmpfs') {
        out.push({ destination: m.target, source: 'tmpfs', type: 'tmpfs', options: tmpfsOptions(m) });
        continue;
      }
      const source = m.type === 'bind' ? await this.bindUp(inst, i, m, r) : await this.volumeUp(inst, m, r);
      out.push({ destination: m.target, source, type: 'bind', options: ['rbind', m.propagation ?? 'rprivate', ...(m.readOnly ? ['ro'] : [])] });
    }
    return out;
  }

  private async bindUp(inst: Instance, i: number, m: InstanceMount, r: Reverter): Promise<string> {
    const at = join(this.root, 'binds', inst.id, String(i));
    r.add(() => unstage(at));
    return stage(m.source, at, { create: !!m.createHostPath }).catch((e: unknown) => {
      throw e instanceof HullError ? e.wrap(`mount ${m.target}`) : e;
    });
  }

  private async volumeUp(inst: Instance, m: InstanceMount, r: Reverter): Promise<string> {
    const v = await this.volumes.getById(m.volumeId ?? '');
    if (!v || v.status !== 'ready') throw new HullError('not_found', `volume ${m.source} (for ${m.target}) no longer exists`);
    if (v.driver === 'local' && !local.mounted(v.options)) return this.volumes.paths(v).data;
    r.add(() => this.volumes.releaseHost(v.id, inst.id));
    return (await this.volumes.claimHost(v.id, inst.id)).hostDir;
  }

  /**
   * A VM-isolated container: its block volumes are disks of its VM (claimed
   * as a VM claims them, made ext4 first when blank), its tmpfs mounts are
   * the guest's, its local volumes and binds are shared directories
   * (virtiofs): each pinned as a plain container's bind is, then served to
   * the guest by a virtiofsd of its own (runtime/qemu/virtiofs.ts).
   */
  private async isolatedUp(inst: Instance, r: Reverter): Promise<StorageContext> {
    const out: StorageContext = { mounts: [], disks: [], shares: [] };
    for (const [i, m] of (inst.config.mounts ?? []).entries()) {
      if (m.type === 'tmpfs') {
        out.mounts.push({ destination: m.target, source: 'tmpfs', type: 'tmpfs', options: tmpfsOptions(m) });
        continue;
      }
      const v = m.type === 'volume' ? await this.volumes.getById(m.volumeId ?? '') : undefined;
      if (m.type === 'volume' && !v) throw new HullError('not_found', `volume ${m.source} (for ${m.target}) no longer exists`);
      if (!v || v.driver !== 'block') {
        out.shares!.push(await this.shareUp(inst, i, m, r));
        continue;
      }
      r.add(() => this.volumes.releaseVm(v.id, inst.id));
      const p = await this.volumes.claimVm(v.id, inst);
      // Only when it was not this guest's already (an attach set the VM up before its start).
      if (p.fresh) await block.format(p, v.name);
      out.disks.push({ volumeId: v.id, name: v.name, path: p.disk, format: p.format, target: m.target, readOnly: m.readOnly });
    }
    return out;
  }

  private async shareUp(inst: Instance, i: number, m: InstanceMount, r: Reverter): Promise<VmShare> {
    const source = m.type === 'bind' ? m.source : await this.volumeUp(inst, m, r);
    const at = join(this.root, 'binds', inst.id, String(i));
    r.add(() => unstageShare(at));
    const { file } = await stageShare(source, at, { create: m.type === 'bind' && !!m.createHostPath, readOnly: m.readOnly }).catch((e: unknown) => {
      throw e instanceof HullError ? e.wrap(`mount ${m.target}`) : e;
    });
    return { source: at, target: m.target, readOnly: m.readOnly, file };
  }

  private async disksUp(inst: Instance, r: Reverter): Promise<VmDisk[]> {
    const out: VmDisk[] = [];
    for (const d of inst.config.disks ?? []) {
      r.add(() => this.volumes.releaseVm(d.volumeId, inst.id));
      const p = await this.volumes.claimVm(d.volumeId, inst);
      out.push({ volumeId: d.volumeId, name: d.name, path: p.disk, format: p.format });
    }
    return out;
  }

  /** After an exit (or a failed start): host mounts and disks let go, pinned binds unmounted. */
  async down(inst: Instance): Promise<void> {
    for (const d of inst.config.disks ?? []) await this.volumes.releaseVm(d.volumeId, inst.id);
    if (inst.config.isolation === 'vm') {
      for (const [i, m] of (inst.config.mounts ?? []).entries()) {
        if (m.type === 'tmpfs') continue;
        const v = m.volumeId ? await this.volumes.getById(m.volumeId) : undefined;
        if (v?.driver === 'block') await this.volumes.releaseVm(v.id, inst.id);
        else await unstageShare(join(this.root, 'binds', inst.id, String(i)));
        if (v?.driver === 'local') await this.volumes.releaseHost(v.id, inst.id);
      }
      await unstage(join(this.root, 'binds', inst.id));
      return;
    }
    for (const [i, m] of (inst.config.mounts ?? []).entries()) {
      if (m.type === 'bind') await unstage(join(this.root, 'binds', inst.id, String(i)));
      else if (m.type === 'volume' && m.volumeId) await this.volumes.releaseHost(m.volumeId, inst.id);
    }
    await unstage(join(this.root, 'binds', inst.id));
  }

  /** At rm, once the record is gone: with `removeAnonymous`, its anonymous volumes no one else uses. */
  async forget(inst: Instance, removeAnonymous: boolean): Promise<void> {
    if (!removeAnonymous) return;
    for (const m of inst.config.mounts ?? []) {
      if (m.type !== 'volume' || !m.volumeId) continue;
      const v = await this.volumes.getById(m.volumeId);
      if (v?.anonymous) await this.volumes.remove(v.id).catch(() => undefined);
    }
  }

  /** The volumes and binds a copy (`hull cp`) walks into, as the container sees them. */
  async copyMounts(inst: Instance): Promise<RootMount[]> {
    const out: RootMount[] = [];
    for (const m of inst.config.mounts ?? []) {
      if (m.type === 'tmpfs') continue;
      if (m.type === 'bind') {
        out.push({ destination: m.target, source: m.source, readonly: m.readOnly });
        continue;
      }
      const v = await this.volumes.getById(m.volumeId ?? '');
      if (!v) continue;
      const dir = this.volumes.paths(v).hostDir;
      // A block volume (or tmpfs one) is reachable only while a running container holds its mount.
      if ((v.driver === 'block' || local.mounted(v.options)) && !v.holder?.ids.length) continue;
      out.push({ destination: m.target, source: dir, readonly: m.readOnly });
    }
    return out;
  }
}

function tmpfsOptions(m: InstanceMount): string[] {
  const o = ['nosuid', 'nodev', 'noexec', `mode=${(m.tmpfsMode ?? 0o1777).toString(8)}`];
  if (m.tmpfsSize) o.push(`size=${m.tmpfsSize}`);
  if (m.readOnly) o.push('ro');
  return o;
}

function exists(path: string): boolean {
  return statOf(path) !== undefined;
}

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** The contents of `target` in the rootfs (when it is a directory) into `dest`, with the directory's own owner and mode. */
async function copyTree(rootfs: string, target: string, dest: string, ids?: IdMap): Promise<void> {
  const from = RootDir.open(rootfs);
  const to = RootDir.open(dest);
  try {
    const w = from.walk();
    let isDir = false;
    try {
      const loc = w.resolve(target, { followLast: true });
      isDir = !loc.missing && !!loc.stat?.isDirectory();
    } catch {
      isDir = false;
    } finally {
      w.close();
    }
    if (!isDir) return;
    const packed = await packPath(from, `${target}/.`, { ids });
    try {
      await extractTo(to, packed.stream, { dest: '/.', keepOwners: true, ids });
    } finally {
      packed.stream.destroy();
      await packed.done;
    }
  } finally {
    from.close();
    to.close();
  }
}
