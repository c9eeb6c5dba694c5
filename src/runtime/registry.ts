import { HullError } from '../core/errors.js';
import type { Instance } from '../core/instance.js';
import type { Driver, TapDevice } from './driver.js';

/**
 * The drivers, found by what they run, as Incus' `drivers/load.go` does:
 *
 *   container      an OCI container (crun/runc under conmon)
 *   vm             a QEMU virtual machine
 *   container-vm   a container whose program runs in a small VM of its own (--isolation vm)
 *
 * A kind whose driver could not start (no guest built) is still known: every
 * call for it fails with the reason. What only some drivers can do is a small
 * optional capability a caller asks for by name (`capable`), never a type check.
 */
export type DriverKind = 'container' | 'vm' | 'container-vm';

export const driverKind = (inst: Pick<Instance, 'type' | 'config'>): DriverKind => (inst.type === 'vm' ? 'vm' : inst.config.isolation === 'vm' ? 'container-vm' : 'container');

/** Point-in-time copies of a running or stopped instance (VMs: memory and disk). */
export interface Snapshots {
  snapshotCreate(inst: Instance, name: string): Promise<unknown>;
  snapshotList(inst: Instance): Promise<unknown[]>;
  snapshotRestore(inst: Instance, name: string, opts: { force?: boolean }): Promise<void>;
  snapshotDelete(inst: Instance, name: string): Promise<void>;
}

/** Network cards added and removed while it runs. */
export interface NicHotplugCapable {
  nicAdd(inst: Instance, tap: TapDevice): Promise<void>;
  nicRemove(inst: Instance, tap: TapDevice): Promise<void>;
}

/** Waiting until the guest inside is up and its agent answers. */
export interface ReadyWait {
  waitReady(inst: Instance, timeoutMs: number): Promise<void>;
}

/** More to show in `inspect` (a VM's accelerator, QEMU's pid and user). */
export interface Inspectable {
  inspect(inst: Instance): Promise<object>;
}

interface Capabilities {
  snapshots: Snapshots;
  nics: NicHotplugCapable;
  ready: ReadyWait;
  inspect: Inspectable;
}

const PROBES: { [K in keyof Capabilities]: string } = { snapshots: 'snapshotCreate', nics: 'nicAdd', ready: 'waitReady', inspect: 'inspect' };
const SAID: { [K in keyof Capabilities]: string } = { snapshots: 'snapshots', nics: 'network cards added while running', ready: 'waiting for a guest agent', inspect: 'inspect details' };
const NOUN: Record<DriverKind, string> = { container: 'container', vm: 'VM', 'container-vm': 'VM-isolated container' };

export class DriverRegistry {
  constructor(
    private drivers: Partial<Record<DriverKind, Driver>>,
    /** Why a kind without a driver is unavailable. */
    private why: Partial<Record<DriverKind, string>> = {},
  ) {}

  /** The driver of this kind, or the reason there is none. */
  kind(k: DriverKind): Driver {
    const d = this.drivers[k];
    if (!d) throw new HullError('unavailable', this.why[k] ?? `${NOUN[k]}s are not available on this daemon`);
    return d;
  }

  has(k: DriverKind): boolean {
    return this.drivers[k] !== undefined;
  }

  /** The driver that runs this instance. */
  for(inst: Pick<Instance, 'type' | 'config'>): Driver {
    return this.kind(driverKind(inst));
  }

  /** A capability of this instance's driver, or a clear error when it has none. */
  capable<K extends keyof Capabilities>(inst: Instance, cap: K): Capabilities[K] {
    const d = this.for(inst) as unknown as Record<string, unknown>;
    if (typeof d[PROBES[cap]] !== 'function') throw new HullError('invalid', `${inst.name} is a ${NOUN[driverKind(inst)]}: it has no ${SAID[cap]}`);
    return d as unknown as Capabilities[K];
  }

  /** Whether this instance's driver has a capability (no error). */
  can(inst: Instance, cap: keyof Capabilities): boolean {
    if (!this.has(driverKind(inst))) return false;
    return typeof (this.for(inst) as unknown as Record<string, unknown>)[PROBES[cap]] === 'function';
  }

  all(): Driver[] {
    return Object.values(this.drivers).filter((d): d is Driver => d !== undefined);
  }
}
