import { HullError, conflict, invalid, wrongState } from '../core/errors.js';
import type { Image } from '../core/image.js';
import type { Instance } from '../core/instance.js';
import type { Reverter } from '../core/reverter.js';
import type { InstanceMount, VmDiskAttachment, Volume } from '../core/volume.js';
import { checkSnapshotName } from '../storage/qcow2.js';
import type { QemuDriver } from '../runtime/qemu/driver.js';
import type { VmDisk } from '../storage/volumes/instance-volumes.js';
import type { InstanceVolumes } from '../storage/volumes/instance-volumes.js';
import type { Volumes } from '../storage/volumes/volumes.js';
import type { ParsedCreateOptions } from './create-options.js';

/** What the volume verbs need from the engine (kept apart so the instance lifecycle can move without them). */
export interface VolumeOpsDeps {
  get(ref: string): Promise<Instance>;
  mustGet(id: string): Promise<Instance>;
  locked<T>(id: string, fn: () => Promise<T>): Promise<T>;
  vm(): QemuDriver;
  volumes(): Volumes;
  storage(): InstanceVolumes;
  save(id: string, mutate: (cur: Instance) => Instance): Promise<Instance>;
}

const live = (i: Instance) => i.state.status === 'running' || i.state.status === 'paused';

/**
 * The engine's volume verbs: a container's mounts at create, a VM's disks at
 * create, hot `vm disk attach/detach`, and the disks of running VMs after a
 * daemon restart. The volume records and the one-owner rule are
 * storage/volumes'; this adds the instances' side under their locks.
 */
export class VolumeOps {
  constructor(private d: VolumeOpsDeps) {}

  /** The volume records themselves (create, list, inspect, rm, prune, export, import, restore). */
  store(): Volumes {
    return this.d.volumes();
  }

  /** A new container's mounts, resolved (volumes it makes are undone through `r` if the container is not made). */
  async plan(o: ParsedCreateOptions, image: Image, isolated: boolean, r: Reverter): Promise<InstanceMount[]> {
    const imageVolumes = Object.keys(image.config.Volumes ?? {});
    return this.d.storage().plan({ mounts: o.mounts, volumesFrom: o.volumesFrom, imageVolumes }, (ref) => this.d.get(ref), r, isolated);
  }

  /** `vm create --disk-volume NAME`: block volumes only, each once. */
  async diskAttachments(refs: string[]): Promise<VmDiskAttachment[]> {
    const out: VmDiskAttachment[] = [];
    for (const ref of refs) {
      const v = await this.d.volumes().get(ref);
      if (v.driver !== 'block') throw invalid(`volume ${v.name} is a local volume: a VM takes block volumes (hull volume create --driver block)`);
      if (out.some((d) => d.volumeId === v.id)) throw invalid(`volume ${v.name} is given twice`);
      out.push({ volumeId: v.id, name: v.name });
    }
    return out;
  }

  private async disk(a: VmDiskAttachment): Promise<VmDisk> {
    const v = await this.d.volumes().getById(a.volumeId);
    if (!v) throw new HullError('not_found', `volume ${a.name} no longer exists`);
    const p = this.d.volumes().paths(v);
    return { volumeId: v.id, name: v.name, path: p.disk, format: p.format };
  }

  /** `vm disk attach VM VOLUME`: recorded; plugged in now when the VM runs (the volume claimed first). */
  async attach(ref: string, volumeRef: string): Promise<VmDiskAttachment[]> {
    const vm = await this.vmInstance(ref);
    return this.d.locked(vm.id, async () => {
      const cur = await this.d.mustGet(vm.id);
      const [a] = await this.diskAttachments([volumeRef]);
      if ((cur.config.disks ?? []).some((d) => d.volumeId === a.volumeId)) throw conflict(`volume ${a.name} is already attached to VM ${cur.name}`);
      const running = live(cur);
      if (cur.state.status === 'paused') throw wrongState(`VM ${cur.name} is paused: resume it before attaching a disk`);
      if (running) await this.d.volumes().claimVm(a.volumeId, cur);
      try {
        const next = await this.d.save(cur.id, (i) => ({ ...i, config: { ...i.config, disks: [...(i.config.disks ?? []), a] } }));
        if (running) await this.d.vm().diskAdd(next, await this.disk(a));
        return next.config.disks!;
      } catch (e) {
        await this.d.save(cur.id, (i) => ({ ...i, config: { ...i.config, disks: (i.config.disks ?? []).filter((d) => d.volumeId !== a.volumeId) } }));
        if (running) await this.d.volumes().releaseVm(a.volumeId, cur.id);
        throw e instanceof HullError ? e.wrap(`cannot attach volume ${a.name} to VM ${cur.name}`) : e;
      }
    });
  }

  /** `vm disk detach VM VOLUME`: unplugged (the guest lets go) when the VM runs, then let go and forgotten. */
  async detach(ref: string, volumeRef: string): Promise<VmDiskAttachment[]> {
    const vm = await this.vmInstance(ref);
    return this.d.locked(vm.id, async () => {
      const cur = await this.d.mustGet(vm.id);
      const v = await this.d.volumes().get(volumeRef);
      const a = (cur.config.disks ?? []).find((d) => d.volumeId === v.id);
      if (!a) throw new HullError('not_found', `volume ${v.name} is not attached to VM ${cur.name}`);
      if (cur.state.status === 'paused') throw wrongState(`VM ${cur.name} is paused: resume it before detaching a disk`);
      if (live(cur)) await this.d.vm().diskRemove(cur, await this.disk(a));
      const next = await this.d.save(cur.id, (i) => ({ ...i, config: { ...i.config, disks: (i.config.disks ?? []).filter((d) => d.volumeId !== v.id) } }));
      await this.d.volumes().releaseVm(v.id, cur.id);
      return next.config.disks ?? [];
    });
  }

  // ---- snapshots: a block volume attached to a running VM is snapshotted by that VM's QEMU ----

  async snapshotCreate(ref: string, name: string): Promise<void> {
    const v = await this.d.volumes().get(ref);
    const vm = await this.holdingVm(v.holder);
    if (!vm) return this.d.volumes().snapshotCreate(v, name);
    checkSnapshotName(name);
    if ((await this.d.volumes().snapshotList(v)).some((s) => s.name === name)) throw conflict(`volume ${v.name} already has a snapshot "${name}"`);
    await this.d.locked(vm.id, () => this.d.vm().diskSnapshot(vm, v.id, name, 'create'));
  }

  async snapshotDelete(ref: string, name: string): Promise<void> {
    const v = await this.d.volumes().get(ref);
    const vm = await this.holdingVm(v.holder);
    if (!vm) return this.d.volumes().snapshotDelete(v, name);
    if (!(await this.d.volumes().snapshotList(v)).some((s) => s.name === name)) throw new HullError('not_found', `snapshot "${name}" of volume ${v.name} not found`);
    await this.d.locked(vm.id, () => this.d.vm().diskSnapshot(vm, v.id, name, 'delete'));
  }

  private async holdingVm(h: Volume['holder']): Promise<Instance | undefined> {
    if (h?.kind !== 'vm' || !h.ids.length) return undefined;
    const vm = await this.d.get(h.ids[0]).catch(() => undefined);
    return vm && live(vm) ? vm : undefined;
  }

  async disks(ref: string): Promise<VmDiskAttachment[]> {
    return (await this.vmInstance(ref)).config.disks ?? [];
  }

  /** Daemon start: each running VM holds its recorded disks again, and QEMU has exactly those. */
  async recoverDisks(instances: Instance[], warn: (msg: string, o: object) => void): Promise<void> {
    for (const inst of instances) {
      if (inst.type !== 'vm' || !live(inst)) continue;
      try {
        const disks: VmDisk[] = [];
        for (const a of inst.config.disks ?? []) {
          await this.d.volumes().claimVm(a.volumeId, inst);
          disks.push(await this.disk(a));
        }
        await this.d.vm().diskReconcile(inst, disks);
      } catch (e) {
        warn('VM disks not recovered', { id: inst.id, err: String(e) });
      }
    }
  }

  private async vmInstance(ref: string): Promise<Instance> {
    const inst = await this.d.get(ref);
    if (inst.type !== 'vm') throw invalid(`${inst.name} is a container, not a VM: containers take volumes with -v or --mount`);
    return inst;
  }
}
