import { Etcd3, type Lease } from 'etcd3';
import { conflict, HullError } from '../../core/errors.js';
import { bounded, faultHandling } from './errors.js';

/** Who holds the lock: enough for a person to find that daemon, and for the same host to tell it is gone. */
export interface LockHolder {
  host: string;
  pid: number;
  root: string;
  /** /proc/sys/kernel/random/boot_id: a pid means something only within one boot of one host. */
  bootId: string;
  since: string;
}

export interface DaemonLockOptions {
  endpoints: string[];
  /** The store's prefix: the lock is `<prefix>/daemon/lock`. */
  prefix: string;
  holder: LockHolder;
  /** Seconds the lock outlives its daemon's last keepalive (default 10). */
  ttlSec?: number;
  timeoutMs?: number;
  /** Whether the daemon named in a held lock is surely gone (same boot, its pid no hull daemon): then the lock is taken over at once. */
  holderGone?: (h: LockHolder) => Promise<boolean>;
}

export const DEFAULT_LOCK_TTL_SEC = 10;

/**
 * One daemon per store prefix: a key bound to an etcd lease that this daemon
 * keeps alive (every ttl/3). A SIGKILLed daemon's lock goes when its lease
 * expires, ttl seconds after its last keepalive. The lock counts as lost
 * (onLost) a second before the lease could have expired on etcd's side
 * without a keepalive answered, so this daemon stops before another can take
 * over; it is never regained.
 */
export class DaemonLock {
  readonly key: string;
  private readonly client: Etcd3;
  private readonly ttlSec: number;
  private readonly timeoutMs: number;
  private readonly where: string;
  private lease?: Lease;
  private leaseId?: string;
  private fired: number[] = [];
  private goodUntil = 0;
  private timer?: NodeJS.Timeout;
  private lostHandlers: Array<(why: string) => void> = [];
  private lostWhy?: string;

  constructor(private readonly opts: DaemonLockOptions) {
    this.key = `${opts.prefix}/daemon/lock`;
    this.ttlSec = opts.ttlSec ?? DEFAULT_LOCK_TTL_SEC;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.where = `etcd at ${opts.endpoints.join(',')}`;
    this.client = new Etcd3({ hosts: opts.endpoints, dialTimeout: this.timeoutMs, faultHandling: faultHandling(opts.endpoints.length) });
  }

  /** Take the lock or throw 'conflict' naming its holder ('unavailable' when etcd does not answer). */
  async acquire(): Promise<void> {
    try {
      const started = Date.now();
      const lease = this.client.lease(this.ttlSec, { autoKeepAlive: true });
      this.lease = lease;
      lease.on('lost', (e: Error) => this.lose(`its lease was lost: ${e.message}`));
      lease.on('keepaliveFired', () => this.fired.push(Date.now()));
      lease.on('keepaliveFailed', () => (this.fired = []));
      lease.on('keepaliveSucceeded', () => this.renewed(this.fired.shift() ?? Date.now()));
      this.leaseId = await this.bounded('lease grant', () => lease.grant());
      this.renewed(started);
      const value = Buffer.from(JSON.stringify(this.opts.holder));
      const key = Buffer.from(this.key);
      const put = { request_put: { key, value, lease: this.leaseId } };
      const res = await this.bounded('lock', (o) => this.client.kv.txn({ compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }], success: [put], failure: [{ request_range: { key } }] }, o));
      if (res.succeeded) return this.watchdog();
      const kv = res.responses[0].response_range.kvs[0];
      const holder = kv ? parseHolder(kv.value.toString()) : undefined;
      if (kv && holder && (await this.opts.holderGone?.(holder))) {
        const take = await this.bounded('lock takeover', (o) => this.client.kv.txn({ compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision }], success: [put] }, o));
        if (take.succeeded) return this.watchdog();
      }
      throw conflict(`${this.where}, prefix ${this.opts.prefix}, is in use by ${holder ? describeHolder(holder) : 'another hull daemon'}: one daemon per store prefix (clustering is not there yet); if that daemon was killed, its lock expires within ${this.ttlSec} s`);
    } catch (e) {
      await this.release();
      throw e;
    }
  }

  /** Called once, with why, if the lock is lost while held. */
  onLost(fn: (why: string) => void): void {
    if (this.lostWhy !== undefined) fn(this.lostWhy);
    else this.lostHandlers.push(fn);
  }

  /** Give the lock up (revoking the lease deletes the key) and close the client. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    this.lostHandlers = [];
    const lease = this.lease;
    this.lease = undefined;
    // A lease never granted needs no revoke: closing the client ends its keepalive.
    if (lease && this.leaseId) await this.bounded('lock release', (o) => lease.revoke(o)).catch(() => undefined);
    this.client.close();
  }

  private renewed(firedAt: number): void {
    this.goodUntil = Math.max(this.goodUntil, firedAt + this.ttlSec * 1000);
  }

  /** The lease could expire at goodUntil at the earliest: give up a second before it. */
  private watchdog(): void {
    this.timer = setInterval(() => {
      if (Date.now() > this.goodUntil - 1000) this.lose(`no keepalive answered by ${this.where} for ${this.ttlSec - 1} s`);
    }, 250);
    this.timer.unref();
  }

  private lose(why: string): void {
    if (this.lostWhy !== undefined || !this.lease) return;
    this.lostWhy = why;
    clearInterval(this.timer);
    for (const fn of this.lostHandlers.splice(0)) fn(why);
  }

  private bounded<R>(what: string, fn: (opts: { deadline: number }) => Promise<R>): Promise<R> {
    return bounded(this.where, this.timeoutMs, what, fn);
  }
}

function parseHolder(v: string): LockHolder | undefined {
  try {
    const h = JSON.parse(v) as LockHolder;
    return typeof h.host === 'string' && Number.isInteger(h.pid) && typeof h.root === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

export const describeHolder = (h: LockHolder) => `the hull daemon on ${h.host} (pid ${h.pid}, root ${h.root}, since ${h.since})`;
