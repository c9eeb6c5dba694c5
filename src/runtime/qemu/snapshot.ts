import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { HullError, wrongState } from '../../core/errors.js';
import * as qcow2 from '../../storage/qcow2.js';
import type { VmFiles } from './files.js';
import type { QmpClient } from './qmp/client.js';

/**
 * VM snapshots, kept inside the VM's qcow2 disk (internal snapshots):
 *
 *   full  memory + devices + disk, taken while the VM runs (or is paused),
 *         with QEMU's snapshot-save job; restoring one resumes the VM where
 *         it was (snapshot-load; on a stopped VM, at its next start: -loadvm)
 *   disk  the disk alone, taken while the VM is stopped (qemu-img snapshot)
 *
 * A running QEMU holds the disk locked, so while it runs everything goes
 * through QMP jobs; while it is stopped, through qemu-img. Each call takes the
 * VM's QMP connection while QEMU runs, undefined while it is stopped, and
 * `as`, the argv prefix that runs qemu-img as the VM's QEMU user (the disk is
 * that user's to write: root does not parse it).
 */
export interface VmSnapshot {
  name: string;
  kind: 'full' | 'disk';
  createdAt: string;
  /** Bytes of saved memory and device state (0 for a disk snapshot). */
  vmStateSize: number;
}

/** The block node that holds the disk and the saved VM state (see devices.disk). */
const NODE = 'disk0';

export async function list(disk: string, as: string[] = []): Promise<VmSnapshot[]> {
  // -U: readable while a running QEMU holds the image; its snapshot table is written at once.
  return (await qcow2.snapshotList(disk, as)).map((s) => ({ name: s.name, kind: s.vmStateSize > 0 ? 'full' : 'disk', createdAt: s.date, vmStateSize: s.vmStateSize }));
}

export async function find(disk: string, name: string, as: string[] = []): Promise<VmSnapshot> {
  const s = (await list(disk, as)).find((x) => x.name === name);
  if (!s) throw new HullError('not_found', `snapshot "${name}" not found`);
  return s;
}

export async function mustBeNew(disk: string, name: string, as: string[] = []): Promise<void> {
  qcow2.checkSnapshotName(name);
  if ((await list(disk, as)).some((x) => x.name === name)) throw new HullError('conflict', `snapshot "${name}" already exists`);
}

export async function create(files: VmFiles, name: string, qmp: QmpClient | undefined, as: string[] = []): Promise<VmSnapshot> {
  await mustBeNew(files.disk, name, as);
  if (qmp) await saveRunning(qmp, name);
  else await qcow2.snapshotCreate(files.disk, name, as);
  return find(files.disk, name, as);
}

export async function restore(files: VmFiles, name: string, qmp: QmpClient | undefined, o: { force?: boolean; vmName: string; as?: string[] }): Promise<void> {
  const s = await find(files.disk, name, o.as);
  if (qmp) {
    if (!o.force) throw wrongState(`VM ${o.vmName} is running: restoring "${name}" discards its current state (use --force, or stop it first)`);
    if (s.kind === 'disk') throw wrongState(`"${name}" is a disk-only snapshot: stop VM ${o.vmName} to restore it`);
    return loadRunning(qmp, name);
  }
  await qcow2.snapshotApply(files.disk, name, o.as);
  // The disk is back; the memory comes back when QEMU next starts (-loadvm).
  if (s.kind === 'full') await writeFile(files.loadvm, name);
  else await rm(files.loadvm, { force: true });
}

export async function remove(files: VmFiles, name: string, qmp: QmpClient | undefined, as: string[] = []): Promise<void> {
  await find(files.disk, name, as);
  if (qmp) await deleteRunning(qmp, name);
  else await qcow2.snapshotDelete(files.disk, name, as);
  if ((await readFile(files.loadvm, 'utf8').catch(() => '')).trim() === name) await rm(files.loadvm, { force: true });
}

const saveRunning = (qmp: QmpClient, name: string) => runJob(qmp, 'snapshot-save', { tag: name, vmstate: NODE, devices: [NODE] });
const loadRunning = (qmp: QmpClient, name: string) => runJob(qmp, 'snapshot-load', { tag: name, vmstate: NODE, devices: [NODE] });
const deleteRunning = (qmp: QmpClient, name: string) => runJob(qmp, 'snapshot-delete', { tag: name, devices: [NODE] });

/**
 * Start a snapshot job and wait for it to conclude (JOB_STATUS_CHANGE), then
 * read its outcome from query-jobs and dismiss it. Snapshot jobs stay until
 * dismissed, which is what lets a failure be read after the fact.
 */
async function runJob(qmp: QmpClient, command: string, args: Record<string, unknown>, timeoutMs = 600_000): Promise<void> {
  const id = `hull-${command}-${randomBytes(4).toString('hex')}`;
  const concluded = qmp.waitEvent('JOB_STATUS_CHANGE', (ev) => ev.data?.id === id && ev.data?.status === 'concluded', timeoutMs);
  concluded.catch(() => undefined);
  await qmp.execute(command, { 'job-id': id, ...args });
  await concluded;
  const jobs = await qmp.execute<Array<{ id: string; status: string; error?: string }>>('query-jobs');
  const job = jobs.find((j) => j.id === id);
  await qmp.execute('job-dismiss', { id }).catch(() => undefined);
  if (job?.error) throw new HullError('internal', `${command} "${String(args.tag)}": ${job.error}`);
}
