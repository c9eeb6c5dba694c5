import type { Instance } from '../../core/instance.js';

/**
 * What a VM is, beyond the common instance config. The engine sets
 * `inst.config.vm` (VmOptions) from `hull vm create` flags; the driver turns
 * that, the image and the resources into a VmSpec, written once to vm.json at
 * create so that a start never depends on looking anything up again.
 */
export type { VmOptions } from '../../core/instance.js';
import type { VmOptions } from '../../core/instance.js';

export type BootMode =
  /** Hull's kernel and initramfs; the disk (ext4) becomes the root; the guest agent answers. */
  | 'hull'
  /** The disk's (or CD's) own bootloader, through the firmware (SeaBIOS). */
  | 'firmware';

export interface VmSpec {
  version: 1;
  image: { name: string; id: string; boot: BootMode };
  memoryBytes: number;
  cpus: number;
  hostname: string;
  diskBytes: number;
  /** An ISO image attached as a CD, booted first. */
  cdrom?: string;
  kernelArgs: string[];
}

export const DEFAULT_MEMORY = 256 * 1024 * 1024;
export const DEFAULT_ISO_DISK = 8 * 1024 * 1024 * 1024;

export function vmOptions(inst: Instance): VmOptions {
  return (inst.config as { vm?: VmOptions }).vm ?? {};
}
