import { invalid } from './errors.js';

/**
 * Volume: data that lives apart from any one container or VM, under a name.
 *
 *   local  a directory under Hull's root (docker's local driver): bind-mounted
 *          into containers; or, with docker's `--opt type=tmpfs|none`, a tmpfs
 *          or a host directory mounted there while a container uses it
 *   block  a disk file (qcow2 or raw, made with qemu-img): hot-plugged into a
 *          VM as a virtio disk, or mounted (ext4) on the host for containers
 *
 * Lifecycle: `creating` → `ready` → `removing`; a record found `creating` or
 * `removing` at daemon start is a half-made or half-removed leftover.
 *
 * A block volume has one owner at a time: one running VM (`holder.kind` vm),
 * or the host's kernel mounting it for any number of running containers
 * (`holder.kind` host). Two kernels never write one ext4.
 */
export type VolumeDriver = 'local' | 'block';
export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';
export const PROPAGATIONS: readonly Propagation[] = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];
export type VolumeStatus = 'creating' | 'ready' | 'removing';

export interface VolumeHolder {
  kind: 'vm' | 'host';
  /** Instance ids: the VM, or the running containers the host mount serves. */
  ids: string[];
}

export interface Volume {
  id: string;
  name: string;
  driver: VolumeDriver;
  createdAt: string;
  labels: Record<string, string>;
  /** docker's `--opt`: local `type`, `device`, `o`; block `size`, `format`. */
  options: Record<string, string>;
  /** A block volume's disk size in bytes (a tmpfs volume's comes from `o=size=`). */
  sizeBytes?: number;
  /** An image's VOLUME or `-v /path` (no name given): removed with `rm -v` and `run --rm`. */
  anonymous: boolean;
  status: VolumeStatus;
  holder?: VolumeHolder;
}

/**
 * One mount of a container, as asked (`-v`, `--mount`, `--tmpfs`,
 * `--volumes-from`, an image's VOLUME) and resolved at create: a volume's id
 * is fixed then, so renaming or re-creating a volume never redirects it.
 */
export interface InstanceMount {
  type: 'volume' | 'bind' | 'tmpfs';
  /** Volume name, host path, or '' (tmpfs; an anonymous volume before create). */
  source: string;
  target: string;
  readOnly: boolean;
  volumeId?: string;
  /** A volume's driver, kept at create (absent in older records: local, the default). */
  driver?: VolumeDriver;
  /** Do not seed an empty volume from the image (`nocopy`, `volume-nocopy`). */
  noCopy?: boolean;
  /** `-v /host:/path` makes a missing host directory; `--mount type=bind` refuses one (as docker). */
  createHostPath?: boolean;
  /** Bind propagation (default rprivate). */
  propagation?: Propagation;
  tmpfsSize?: number;
  tmpfsMode?: number;
  /** Options for a named volume made on first use (`--mount volume-opt=k=v`). */
  volumeOptions?: Record<string, string>;
}

/** A block volume attached to a VM (`vm create --disk-volume`, `vm disk attach`). */
export interface VmDiskAttachment {
  volumeId: string;
  name: string;
}

/** docker's rule for volume names, capped: no `/`, no `..`, no NUL, no leading dot or dash. */
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

export function checkVolumeName(name: string): void {
  if (!VOLUME_NAME.test(name) || name.includes('..')) {
    throw invalid(`invalid volume name ${JSON.stringify(name)}: use 1-128 letters, digits, '_', '.', '-', starting with a letter or digit (no '/', no '..')`);
  }
}

/** A mount's target: absolute, not `/`, no NUL, no `..` (docker refuses the same). */
export function checkTarget(target: string): string {
  if (!target.startsWith('/')) throw invalid(`invalid mount target ${JSON.stringify(target)}: it must be an absolute path`);
  if (target.includes('\0')) throw invalid('invalid mount target: it holds a NUL byte');
  const parts = target.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalid(`invalid mount target ${JSON.stringify(target)}: '..' is not allowed`);
  if (parts.length === 0) throw invalid("invalid mount target \"/\": a container's root cannot be a mount");
  return `/${parts.join('/')}`;
}
