import { z } from 'zod';
import { HOSTNAME_RULE, isValidHostname } from '../core/ids.js';
import type { VmOptions } from '../core/instance.js';
import { checkSshKey, checkUserData } from '../runtime/qemu/cloud-init.js';
import { isCryptHash, sha512Crypt } from '../runtime/qemu/crypt.js';

/**
 * What a client sends to create a VM (`POST /v1/vms`): strict, sizes in bytes
 * (the CLI parses `--memory 512m`, `--disk 4g`).
 */
export const VmCreateSchema = z
  .object({
    name: z.string().optional(),
    image: z.string().min(1).default('debian-min'),
    memoryBytes: z.number().int().positive().optional(),
    cpus: z.number().positive().optional(),
    diskBytes: z.number().int().positive().optional(),
    userScript: z.string().optional(),
    /** cloud-init guests: SSH public keys and a password (plain, or a crypt(3) hash) for the image's default user. */
    sshKeys: z.array(z.string()).default([]),
    password: z.string().min(1).optional(),
    /** cloud-init guests: the user's own user-data, given verbatim instead of Hull's. */
    userData: z.string().min(1).optional(),
    hostname: z.string().refine(isValidHostname, HOSTNAME_RULE).optional(),
    labels: z.record(z.string(), z.string()).default({}),
    /** Networks by name (none given: the default network; `none`: no NIC), aliases and a fixed address on the first. */
    networks: z.array(z.string()).optional(),
    networkAliases: z.array(z.string()).default([]),
    ip: z.string().optional(),
    /** Block volumes attached as disks (by name or id), in this order after the VM's own disk. */
    diskVolumes: z.array(z.string().min(1)).default([]),
  })
  .strict()
  .superRefine((o, ctx) => {
    const bad = (message: string) => ctx.addIssue({ code: 'custom', message });
    try {
      o.sshKeys.forEach(checkSshKey);
      if (o.userData !== undefined) checkUserData(o.userData);
    } catch (e) {
      bad((e as Error).message);
    }
    // Keys, password and script go into Hull's generated user-data; a user's own replaces it.
    if (o.userData !== undefined && (o.sshKeys.length || o.password || o.userScript)) {
      bad('--user-data replaces the user-data Hull makes: put SSH keys, password and script in it instead of --ssh-key, --password, --user-script');
    }
  });
export type VmCreateOptions = z.input<typeof VmCreateSchema>;

/**
 * The VM part of the instance config (`inst.config.vm`) from a parsed create
 * request: the password is kept only as a SHA-512 crypt hash (one given
 * already hashed is kept as is).
 */
export function vmConfig(o: z.output<typeof VmCreateSchema>): VmOptions {
  const passwordHash = o.password === undefined ? undefined : isCryptHash(o.password) ? o.password : sha512Crypt(o.password);
  return {
    diskBytes: o.diskBytes,
    userScript: o.userScript,
    sshKeys: o.sshKeys.length ? o.sshKeys.map((k) => k.trim()) : undefined,
    passwordHash,
    userData: o.userData,
  };
}
