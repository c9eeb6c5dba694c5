import { z } from 'zod';

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
    hostname: z.string().optional(),
    labels: z.record(z.string(), z.string()).default({}),
    /** Networks by name (none given: the default network; `none`: no NIC), aliases and a fixed address on the first. */
    networks: z.array(z.string()).optional(),
    networkAliases: z.array(z.string()).default([]),
    ip: z.string().optional(),
  })
  .strict();
export type VmCreateOptions = z.input<typeof VmCreateSchema>;

/** `POST /v1/isolated-runs`: one OCI image's program in a VM of its own. */
export const IsolatedRunSchema = z
  .object({
    image: z.string().min(1),
    cmd: z.array(z.string()).optional(),
    entrypoint: z.array(z.string()).optional(),
    env: z.array(z.string()).default([]),
    workingDir: z.string().default(''),
    user: z.string().default(''),
    hostname: z.string().optional(),
    memoryBytes: z.number().int().positive().optional(),
    cpus: z.number().positive().optional(),
  })
  .strict();
export type IsolatedRunRequest = z.input<typeof IsolatedRunSchema>;
