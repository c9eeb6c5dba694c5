import { z } from 'zod';
import { AVAILABILITIES } from '../../core/node.js';

export type { Node } from '../../core/node.js';

const LabelKey = z.string().min(1).max(128);

/** POST /v1/nodes/{ref}/update: swarm's `docker node update`. */
export const NodeUpdateBody = z
  .object({
    labelAdd: z.record(LabelKey, z.string().max(4096)).optional(),
    labelRm: z.array(LabelKey).max(256).optional(),
    availability: z.enum(AVAILABILITIES as [string, ...string[]]).optional(),
  })
  .strict();
