import type { InstanceMount } from '../../core/volume.js';

/** What the record does not say of a mounted volume: its files' place on the host (the Docker socket looks it up). */
export interface VolumeInfo {
  name: string;
  driver: string;
  hostDir: string;
}

/** What a mount list needs of a record's mount (the API's summary carries these fields too). */
export type MountLike = Pick<InstanceMount, 'type' | 'source' | 'target' | 'readOnly' | 'volumeId' | 'propagation' | 'driver'>;

/**
 * A container's mounts as docker's MountPoint list (inspect's and ps's
 * `Mounts`): a volume by its name and driver (records made before the driver
 * was kept say local, the default), a bind by its host path, a tmpfs. A
 * volume's Source is its host directory where `volume` knows it, else empty.
 */
export function mountPoints(mounts: readonly MountLike[], volume: (id: string) => VolumeInfo | undefined = () => undefined) {
  return mounts.map((m) => {
    const v = m.volumeId ? volume(m.volumeId) : undefined;
    const base = { Type: m.type, Source: m.type === 'volume' ? (v?.hostDir ?? '') : m.source, Destination: m.target, Mode: m.type === 'bind' ? (m.readOnly ? 'ro' : '') : m.type === 'volume' ? 'z' : '', RW: !m.readOnly, Propagation: m.type === 'bind' ? (m.propagation ?? 'rprivate') : '' };
    return m.type === 'volume' ? { ...base, Name: v?.name ?? m.source, Driver: v?.driver ?? m.driver ?? 'local' } : base;
  });
}
