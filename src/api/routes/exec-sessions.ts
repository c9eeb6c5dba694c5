import { conflict, notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { ExecOptions, ExecSession } from '../../runtime/driver.js';

/**
 * Exec sessions, as docker's: created by POST /containers/{ref}/exec, started
 * once by POST /exec/{id}/start, read by GET /exec/{id}. Kept in memory (an
 * exec belongs to the client that made it), and bounded: a session not started
 * within `unstartedMs` is dropped, a finished one `finishedMs` after it ended
 * (its exit code stays readable until then), and every session of a container
 * when the container is removed. Docker keeps unstarted ones until the
 * container goes; a client that never starts them would grow the daemon.
 */
export interface ExecRecord {
  id: string;
  containerId: string;
  opts: ExecOptions;
  session?: ExecSession;
  /** Claimed by a start: a session runs its command at most once. */
  started: boolean;
  running: boolean;
  exitCode: number | null;
}

export const EXEC_TTL = { unstartedMs: 5 * 60_000, finishedMs: 5 * 60_000 };

export class ExecSessions {
  private m = new Map<string, ExecRecord>();
  private timers = new Map<string, NodeJS.Timeout>();

  constructor(private ttl = EXEC_TTL) {}

  /** A new session, waiting to be started. */
  add(containerId: string, opts: ExecOptions): ExecRecord {
    const r: ExecRecord = { id: newId(), containerId, opts, started: false, running: false, exitCode: null };
    this.m.set(r.id, r);
    this.dropAfter(r.id, this.ttl.unstartedMs);
    return r;
  }

  get(id: string): ExecRecord {
    const r = this.m.get(id);
    if (!r) throw notFound(`exec session ${id}`);
    return r;
  }

  /** Claim a session to run it. Synchronous, so of two concurrent starts exactly one wins; the other is a conflict. */
  start(id: string): ExecRecord {
    const r = this.get(id);
    if (r.started) throw conflict(`exec session ${id} was already started: create another`);
    r.started = true;
    clearTimeout(this.timers.get(id));
    return r;
  }

  /** A started session ended (or failed to start): forget it after a while, its exit code readable until then. */
  expire(id: string): void {
    if (this.m.has(id)) this.dropAfter(id, this.ttl.finishedMs);
  }

  /** A container was removed: its sessions go with it. */
  dropContainer(containerId: string): void {
    for (const r of this.m.values()) if (r.containerId === containerId) this.drop(r.id);
  }

  get size(): number {
    return this.m.size;
  }

  private dropAfter(id: string, ms: number): void {
    clearTimeout(this.timers.get(id));
    this.timers.set(id, setTimeout(() => this.drop(id), ms).unref());
  }

  private drop(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    this.m.delete(id);
  }
}
