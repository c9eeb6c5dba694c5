import { join } from 'node:path';
import type { Volume } from '../../core/volume.js';

/**
 * Where a volume's files are, under <root>/volumes/<id>/ (the id, never the
 * name, so no name can reach a path):
 *
 *   _data/        a local volume's files (docker's layout), bind-mounted into containers
 *   disk.qcow2    a block volume's disk (disk.raw with --opt format=raw)
 *   export        qcow2 only, while mounted on the host: the disk as raw bytes (qemu-storage-daemon's FUSE export)
 *   qsd.pid       that qemu-storage-daemon's pid
 *   mnt/          a block volume's ext4, mounted on the host while containers use it
 *   snapshots/    a local volume's snapshots, one directory each
 */
export class VolumePaths {
  readonly dir: string;
  /** `isDir`: `root` is the volume's directory itself (cleanup of one found without a record). */
  constructor(root: string, readonly v: Pick<Volume, 'id' | 'driver' | 'options'>, isDir = false) {
    this.dir = isDir ? root : join(root, 'volumes', v.id);
  }
  get data() {
    return join(this.dir, '_data');
  }
  get format(): 'qcow2' | 'raw' {
    return this.v.options.format === 'raw' ? 'raw' : 'qcow2';
  }
  get disk() {
    return join(this.dir, `disk.${this.format}`);
  }
  get fuseExport() {
    return join(this.dir, 'export');
  }
  get qsdPid() {
    return join(this.dir, 'qsd.pid');
  }
  get mnt() {
    return join(this.dir, 'mnt');
  }
  get snapshots() {
    return join(this.dir, 'snapshots');
  }
  /** What a container bind-mounts: the directory, or the block volume's mounted filesystem. */
  get hostDir() {
    return this.v.driver === 'block' ? this.mnt : this.data;
  }
}
