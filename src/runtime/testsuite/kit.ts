import type { Instance } from '../../core/instance.js';
import type { Driver } from '../driver.js';
import { Unsupported, type DriverFixture, type Program } from './fixture.js';
import { programReady } from './helpers.js';

/**
 * What a case works with: the fixture's driver, instances it makes (each
 * removed after the case, whatever happened), and one shared running
 * instance (a `shell` program) for the cases that only look at a running
 * instance and leave it running, so a kind whose start is a VM's boot boots
 * it once for all of them. A case that ends the shared instance (attach, for
 * a container, by closing its stdin) costs the next one a new start, never a
 * wrong result: `shared()` makes a new one when the old one is not running.
 */
export class CaseKit {
  private made: Instance[] = [];
  private sharedInst?: Instance;
  private seq = 0;

  constructor(
    readonly fx: DriverFixture,
    /** One start's time to a ready program. */
    readonly bootMs: number,
  ) {}

  get d(): Driver {
    return this.fx.driver;
  }

  /** A record for `program`, not created (the case's own, removed afterwards). */
  instance(program: Program): Instance {
    const inst = this.fx.instance(`ds-${process.pid}-${++this.seq}`, program);
    this.made.push(inst);
    return inst;
  }

  /** Can this kind run `program`? */
  supports(program: Program): boolean {
    try {
      this.fx.instance('probe', program);
      return true;
    } catch (e) {
      if (e instanceof Unsupported) return false;
      throw e;
    }
  }

  /** `code` where the kind's programs can exit with it, else 0 (a VM ends by powering off). */
  exitCode(code: number): number {
    return this.supports({ kind: 'exit', code }) ? code : 0;
  }

  /** A created instance running nothing yet. */
  async created(program: Program): Promise<Instance> {
    const inst = this.instance(program);
    await this.d.create(inst, this.fx.context(inst));
    return inst;
  }

  /** A started instance whose program has set itself up. */
  async started(program: Program): Promise<Instance> {
    const inst = await this.created(program);
    await this.d.start(inst, this.fx.context(inst));
    await programReady(this.d, inst, this.bootMs);
    return inst;
  }

  /** The shared running `shell` instance, started anew when the last one is not running. */
  async shared(): Promise<Instance> {
    const cur = this.sharedInst;
    if (cur && (await this.d.status(cur)).status === 'running') return cur;
    if (cur) await this.d.remove(cur).catch(() => undefined);
    this.sharedInst = await this.started({ kind: 'shell' });
    this.made = this.made.filter((i) => i !== this.sharedInst);
    return this.sharedInst;
  }

  /** After each case: its instances go (remove is idempotent; a failure here is the case's failure). */
  async afterCase(): Promise<void> {
    const made = this.made.splice(0);
    for (const inst of made) await this.d.remove(inst);
  }

  /** After the suite: the shared instance too. */
  async afterAll(): Promise<void> {
    await this.afterCase();
    if (this.sharedInst) await this.d.remove(this.sharedInst);
  }
}
