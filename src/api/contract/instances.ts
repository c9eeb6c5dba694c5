/**
 * The containers' and VMs' API contract as the CLI (and the dashboard)
 * import it: the request bodies' types. The schemas themselves are the
 * engine's strict edge (engine/create-options.ts, vm-options.ts); clients
 * take the types from here, never from the engine.
 */
export type { CreateOptions } from '../../engine/create-options.js';
export type { VmCreateOptions } from '../../engine/vm-options.js';
