import { parseTmpfsFlag, parseVolumeFlag, type MountRequest } from '../../../core/mount-spec.js';
import { PROPAGATIONS, type Propagation } from '../../../core/volume.js';
import type { Instance } from '../../../core/instance.js';
import type { CreateOptions } from '../../../engine/create-options.js';
import type { Volumes } from '../../../storage/volumes/volumes.js';
import { mountPoints as viewMountPoints, type VolumeInfo } from '../../docker-view/mounts.js';

export type { VolumeInfo } from '../../docker-view/mounts.js';
import { DockerError } from '../errors.js';
import type { CreateBody, HostConfigBody } from './create-body.js';

type MountBodyOf = NonNullable<HostConfigBody['Mounts']>[number];

/**
 * docker's four ways of asking for mounts, as Hull's create options:
 * HostConfig.Binds (`-v NAME:/path`, `-v /host:/path`), HostConfig.Mounts
 * (`--mount`), HostConfig.Tmpfs (`--tmpfs`), and Config.Volumes (`-v /path`:
 * anonymous volumes); VolumesFrom as it is. The image's VOLUMEs are the
 * engine's to add. A -v spec is read by the same parser as Hull's CLI.
 */
export function mountOptions(b: CreateBody, h: HostConfigBody, warnings: string[]): Partial<CreateOptions> {
  const mounts: MountRequest[] = [...(h.Binds ?? []).map((s) => parseVolumeFlag(s)), ...(h.Mounts ?? []).map((m) => mountOf(m, warnings))];
  for (const [target, opts] of Object.entries(h.Tmpfs ?? {})) mounts.push(parseTmpfsFlag(opts ? `${target}:${opts}` : target));
  for (const target of Object.keys(b.Volumes ?? {})) {
    if (!mounts.some((m) => m.target === target)) mounts.push({ type: 'volume', source: '', target, readOnly: false });
  }
  return { mounts, volumesFrom: h.VolumesFrom ?? [] };
}

function mountOf(m: MountBodyOf, warnings: string[]): MountRequest {
  const type = m.Type;
  if (type !== 'volume' && type !== 'bind' && type !== 'tmpfs') throw new DockerError(501, `mount type "${type}" is not supported by Hull (volume, bind or tmpfs)`);
  const out: MountRequest = { type, source: m.Source ?? '', target: m.Target, readOnly: m.ReadOnly ?? false };
  const prop = m.BindOptions?.Propagation;
  if (prop) {
    if (!PROPAGATIONS.includes(prop as Propagation)) throw new DockerError(400, `invalid mount propagation "${prop.slice(0, 32)}"`);
    out.propagation = prop as Propagation;
  }
  if (m.BindOptions?.CreateMountpoint) out.createHostPath = true;
  const vo = m.VolumeOptions;
  if (vo?.Subpath) throw new DockerError(501, 'volume subpaths (volume-subpath) are not supported by Hull');
  if (vo?.NoCopy) out.noCopy = true;
  const driver = vo?.DriverConfig?.Name;
  if (driver || Object.keys(vo?.DriverConfig?.Options ?? {}).length) out.volumeOptions = { ...(vo?.DriverConfig?.Options ?? {}), ...(driver ? { driver } : {}) };
  if (vo?.Labels && Object.keys(vo.Labels).length) warnings.push("Hull ignores the labels of a volume made by a container's mount (make it with docker volume create --label)");
  if (m.TmpfsOptions?.SizeBytes) out.tmpfsSize = m.TmpfsOptions.SizeBytes;
  if (m.TmpfsOptions?.Mode) out.tmpfsMode = m.TmpfsOptions.Mode;
  return out;
}

/** A container's mounts as docker's MountPoint list, with the volumes' host directories (docker-view/mounts.ts). */
export function mountPoints(inst: Instance, volume: (id: string) => VolumeInfo | undefined) {
  return viewMountPoints(inst.config.mounts ?? [], volume);
}

/** docker's HostConfig.Binds and Tmpfs, as `-v` and `--tmpfs` would have said them. */
export function bindsOf(inst: Instance, volume: (id: string) => VolumeInfo | undefined): { Binds: string[] | null; Tmpfs: Record<string, string> | null } {
  const ms = inst.config.mounts ?? [];
  const binds = ms
    .filter((m) => m.type !== 'tmpfs' && (m.type === 'bind' || m.source || (m.volumeId && volume(m.volumeId))))
    .map((m) => `${m.type === 'volume' ? (volume(m.volumeId ?? '')?.name ?? m.source) : m.source}:${m.target}${m.readOnly ? ':ro' : ''}`);
  const tmpfs = ms.filter((m) => m.type === 'tmpfs');
  return { Binds: binds.length ? binds : null, Tmpfs: tmpfs.length ? Object.fromEntries(tmpfs.map((m) => [m.target, m.tmpfsSize ? `size=${m.tmpfsSize}` : ''])) : null };
}

/** The volumes a set of containers mount, looked up once. */
export async function volumeLookup(vols: Volumes, insts: Instance[]): Promise<(id: string) => VolumeInfo | undefined> {
  const ids = new Set(insts.flatMap((i) => (i.config.mounts ?? []).map((m) => m.volumeId).filter((x): x is string => !!x)));
  const found = new Map<string, VolumeInfo>();
  for (const id of ids) {
    const v = await vols.getById(id);
    if (v) found.set(id, { name: v.name, driver: v.driver, hostDir: vols.paths(v).hostDir });
  }
  return (id) => found.get(id);
}
