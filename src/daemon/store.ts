import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { HullError } from '../core/errors.js';
import type { Logger } from '../engine/logger.js';
import { DaemonLock, type LockHolder } from '../store/etcd/daemon-lock.js';
import { EtcdStore } from '../store/etcd/etcd-store.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';
import { pidAlive } from '../sys/run.js';
import { describeStore, type StoreSpec } from '../store/spec.js';

export interface OpenedStore {
  store: Store;
  /** etcd only: this daemon's hold on the prefix. */
  lock?: DaemonLock;
}

/**
 * The daemon's store. etcd: one bounded read first (a daemon whose etcd does
 * not answer refuses to start, naming it), then the prefix's daemon lock
 * (DaemonLock: one daemon per prefix until clustering).
 */
export async function openStore(spec: StoreSpec, root: string, log: Logger): Promise<OpenedStore> {
  if (spec.kind === 'sqlite') {
    await mkdir(dirname(spec.path), { recursive: true, mode: 0o711 });
    return { store: new SqliteStore(spec.path) };
  }
  const store = new EtcdStore({ endpoints: spec.endpoints, prefix: spec.prefix });
  const lock = new DaemonLock({ endpoints: spec.endpoints, prefix: spec.prefix, holder: await holder(root), holderGone });
  try {
    await store.get('meta', 'daemon-lock-check').catch((e: Error) => {
      throw new HullError('unavailable', `store ${describeStore(spec)}: etcd does not answer: ${e.message}`);
    });
    await lock.acquire();
  } catch (e) {
    await store.close();
    throw e;
  }
  log.info({ store: describeStore(spec), lock: lock.key }, 'store lock taken');
  return { store, lock };
}

async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
}

async function holder(root: string): Promise<LockHolder> {
  return { host: hostname(), pid: process.pid, root, bootId: await bootId(), since: new Date().toISOString() };
}

/** A holder of this very boot whose pid is no hull daemon (it was killed, or this pid is reused): its lock may be taken at once. */
async function holderGone(h: LockHolder): Promise<boolean> {
  const ours = await bootId();
  if (!ours || h.bootId !== ours) return false;
  return h.pid === process.pid || !(pidAlive(h.pid) && (await isHullDaemon(h.pid)));
}

export async function isHullDaemon(pid: number): Promise<boolean> {
  const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmd.includes('hull') && cmd.includes('daemon');
}
