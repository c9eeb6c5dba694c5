import { z } from 'zod';
import { nullable } from '../query.js';
import { HostConfigSchema, num } from './create-body.js';
import { resources, restartPolicy } from './host-config.js';

export const UpdateBodySchema = z
  .object({
    Memory: num,
    MemorySwap: num,
    NanoCpus: num,
    CpuQuota: num,
    CpuPeriod: num,
    PidsLimit: num,
    RestartPolicy: nullable(z.object({ Name: nullable(z.string()), MaximumRetryCount: num }).loose()),
    CpuShares: num,
    BlkioWeight: num,
    CpusetCpus: nullable(z.string()),
    CpusetMems: nullable(z.string()),
    MemoryReservation: num,
  })
  .loose();

/** `docker update`'s body: zero is "unchanged", as the CLI sends every field it knows. */
export function translateUpdate(b: z.output<typeof UpdateBodySchema>) {
  const h = { ...HostConfigSchema.parse({}), Memory: b.Memory, NanoCpus: b.NanoCpus, CpuQuota: b.CpuQuota, CpuPeriod: b.CpuPeriod, PidsLimit: b.PidsLimit };
  const { memoryBytes, cpus, pidsLimit } = resources(h);
  const warnings: string[] = [];
  if (b.MemorySwap && b.MemorySwap !== -1 && b.MemorySwap !== b.Memory) warnings.push('Hull ignores --memory-swap: swap is capped at the memory limit');
  if (b.CpuShares || b.BlkioWeight || b.CpusetCpus || b.CpusetMems || b.MemoryReservation) warnings.push('Hull ignores --cpu-shares, --blkio-weight, --cpuset-* and --memory-reservation');
  const restart = b.RestartPolicy?.Name ? restartPolicy({ ...h, RestartPolicy: b.RestartPolicy }) : undefined;
  return {
    resources: { ...(memoryBytes !== undefined ? { memoryBytes } : {}), ...(cpus !== undefined ? { cpus } : {}), ...(pidsLimit !== undefined ? { pidsLimit } : {}) },
    restartPolicy: restart ? { name: restart.restartPolicy!, ...(restart.restartMaxRetries ? { maxRetries: restart.restartMaxRetries } : {}) } : undefined,
    warnings,
  };
}
