import type { CaseKit } from './kit.js';

/** One conformance case: a title (the key a driver skips it by) and what it checks, through the Driver interface only. */
export interface DriverCase {
  title: string;
  /** Starts it makes (for the VM kinds each one a boot): its time limit scales with them. */
  starts: number;
  run(k: CaseKit): Promise<void>;
}
