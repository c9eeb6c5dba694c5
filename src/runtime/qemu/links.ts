import { readFile } from 'node:fs/promises';
import { wrongState } from '../../core/errors.js';
import { AgentClient } from './agent.js';
import { ConsoleHub } from './console.js';
import type { StdioStream } from '../driver.js';
import { exists, exitCodeFor, recordExit } from './exit.js';
import type { VmFiles } from './files.js';
import { livePid, waitGone } from './process.js';
import { QmpClient, type QmpEvent } from './qmp/client.js';
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../../core/log-config.js';
import { LogKeeper } from '../logs/keeper.js';

/** A VM as the links see it. */
export interface VmRef {
  id: string;
  name: string;
  files: VmFiles;
  /** How its console log is kept (default: the built-in policy). */
  log?: LogConfig;
}

/**
 * VmLinks: Hull's connections to its running VMs, one QMP and one guest-agent
 * connection each, made on first use and remade after QEMU restarts, and the
 * serial console's hub while anyone is attached (console.ts). While the QMP
 * connection is up, the console log is kept within its policy (logs/keeper.ts).
 * The QMP connection is also the VM's exit watch:
 *
 *   SHUTDOWN from the guest    record the exit (0; 1 for a panic), then `quit` (QEMU has -no-shutdown)
 *   SHUTDOWN from the host     record it (137 quit, 143 signal); QEMU exits by itself
 *   found in `shutdown` state  the guest powered off while no Hull watched: as a guest SHUTDOWN
 *   connection lost, QEMU gone record 255 (unless something was recorded first)
 *
 * A connection Hull closes on purpose (`quietly`) is not an exit.
 */
export class VmLinks {
  private qmps = new Map<string, Promise<QmpClient>>();
  private agents = new Map<string, Promise<AgentClient>>();
  private consoles = new Map<string, Promise<ConsoleHub>>();
  private closing = new Set<string>();

  constructor(private exitDir: string) {}

  qmp(vm: VmRef): Promise<QmpClient> {
    const cur = this.qmps.get(vm.id);
    if (cur) return cur;
    const p = this.connectQmp(vm, () => {
      if (this.qmps.get(vm.id) === p) this.qmps.delete(vm.id);
    });
    this.qmps.set(vm.id, p);
    p.catch(() => this.qmps.get(vm.id) === p && this.qmps.delete(vm.id));
    return p;
  }

  async qmpStatus(vm: VmRef): Promise<string> {
    return (await (await this.qmp(vm)).execute<{ status: string }>('query-status', undefined, { timeoutMs: 5000 })).status;
  }

  private async connectQmp(vm: VmRef, forget: () => void): Promise<QmpClient> {
    const q = await QmpClient.connect(vm.files.qmp, { timeoutMs: 10_000 });
    const keeper = LogKeeper.start(vm.files.consoleLog, vm.log ?? DEFAULT_LOG_CONFIG, 'copy');
    q.onEvent((ev) => void this.onEvent(vm, q, ev));
    q.onClose(() => {
      keeper.stop();
      forget();
      void this.onGone(vm);
    });
    const st = await q.execute<{ status: string }>('query-status').catch(() => undefined);
    if (st?.status === 'shutdown') await this.guestEnded(vm, q, 'guest-shutdown');
    if (st?.status === 'guest-panicked') await this.guestEnded(vm, q, 'guest-panic');
    return q;
  }

  private async onEvent(vm: VmRef, q: QmpClient, ev: QmpEvent): Promise<void> {
    if (ev.event !== 'SHUTDOWN') return;
    const reason = String(ev.data?.reason ?? 'unknown');
    if (ev.data?.guest === true) return this.guestEnded(vm, q, reason);
    await recordExit(vm.files, this.exitDir, vm.id, exitCodeFor(reason), reason);
  }

  private async guestEnded(vm: VmRef, q: QmpClient, reason: string): Promise<void> {
    await recordExit(vm.files, this.exitDir, vm.id, exitCodeFor(reason), reason);
    await q.execute('quit', undefined, { timeoutMs: 5000 }).catch(() => undefined);
  }

  private async onGone(vm: VmRef): Promise<void> {
    if (this.closing.has(vm.id)) return;
    const pid = Number((await readFile(vm.files.pid, 'utf8').catch(() => '')).trim());
    if (pid && !(await waitGone(pid, vm.files, 5000))) return;
    if (this.closing.has(vm.id) || !(await exists(vm.files.dir))) return;
    await recordExit(vm.files, this.exitDir, vm.id, 255, 'QEMU exited without a SHUTDOWN event');
  }

  /** The guest agent's connection; waits up to `timeoutMs` for the agent to answer. */
  agent(vm: VmRef, timeoutMs = 10_000): Promise<AgentClient> {
    const cur = this.agents.get(vm.id);
    if (cur) {
      return cur.then((a) => {
        if (!a.closed) return a;
        if (this.agents.get(vm.id) === cur) this.agents.delete(vm.id);
        return this.agent(vm, timeoutMs);
      });
    }
    const p = (async () => {
      if (!(await livePid(vm.files))) throw wrongState(`VM ${vm.name} is not running`);
      return AgentClient.connect(vm.files.agent, { timeoutMs });
    })();
    this.agents.set(vm.id, p);
    p.catch(() => this.agents.get(vm.id) === p && this.agents.delete(vm.id));
    return p;
  }

  /** A new client of the VM's serial console, sharing it with the others attached. */
  async console(vm: VmRef): Promise<StdioStream> {
    let p = this.consoles.get(vm.id);
    if (!p) {
      const hub: Promise<ConsoleHub> = ConsoleHub.open(vm.files.console, vm.files.consoleLog, () => this.consoles.get(vm.id) === hub && this.consoles.delete(vm.id));
      p = hub;
      this.consoles.set(vm.id, hub);
      hub.catch(() => this.consoles.get(vm.id) === hub && this.consoles.delete(vm.id));
    }
    const hub = await p;
    // The last client may have left (and the hub closed) while this one waited for it.
    return hub.ended ? this.console(vm) : hub.attach();
  }

  /** Run `fn` with the VM's hang-ups not counted as exits (Hull itself is stopping or removing it). */
  async quietly<T>(id: string, fn: () => Promise<T>): Promise<T> {
    this.closing.add(id);
    try {
      return await fn();
    } finally {
      this.closing.delete(id);
    }
  }

  /** Close a VM's connections; the VM keeps running. */
  async drop(id: string): Promise<void> {
    const q = this.qmps.get(id);
    const a = this.agents.get(id);
    const c = this.consoles.get(id);
    this.qmps.delete(id);
    this.agents.delete(id);
    this.consoles.delete(id);
    await c?.then((h) => h.close()).catch(() => undefined);
    await Promise.all([q?.then((c) => c.close()).catch(() => undefined), a?.then((c) => c.close()).catch(() => undefined)]);
  }

  /** Let go of every VM (daemon shutdown), leaving them running; the links are not used again. */
  async close(): Promise<void> {
    const ids = new Set([...this.qmps.keys(), ...this.agents.keys(), ...this.consoles.keys()]);
    for (const id of ids) this.closing.add(id);
    await Promise.all([...ids].map((id) => this.drop(id)));
  }
}
