import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHullError } from '../../core/errors.js';
import { haveEtcd, startEtcd, type TestEtcd } from '../../../test/helpers/etcd.js';
import { DaemonLock, type LockHolder } from './daemon-lock.js';

/**
 * The one-daemon-per-prefix lock on a real etcd: refused while held (naming
 * the holder), free once released, a dead holder's lease expiring, a holder
 * known gone taken over at once, and the loss of a lock whose etcd stops
 * answering. (Its use by the daemon: test/integration/store-etcd.test.ts.)
 */
const skipReason = haveEtcd ? undefined : '/usr/bin/etcd is missing (Debian etcd-server; scripts/setup.sh installs it with HULL_SETUP_TEST=1)';

let etcd: TestEtcd | undefined;
let seq = 0;
const freshPrefix = () => `/hull-lock-test/${process.pid}/${++seq}`;
const holder = (pid: number): LockHolder => ({ host: 'h1', pid, root: `/r${pid}`, bootId: 'b', since: '2026-01-01T00:00:00.000Z' });
const lock = (prefix: string, pid: number, more: Partial<ConstructorParameters<typeof DaemonLock>[0]> = {}) =>
  new DaemonLock({ endpoints: [etcd!.endpoint], prefix, holder: holder(pid), timeoutMs: 1000, ...more });

async function refusal(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  if (!isHullError(e, 'conflict')) throw new Error(`expected a conflict, got ${e === undefined ? 'success' : String(e)}`);
  return e.message;
}

describe.skipIf(!!skipReason)(`DaemonLock on a real etcd${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    etcd = await startEtcd();
  }, 20_000);
  afterAll(async () => {
    await etcd?.stop();
  });

  it('is refused while held, naming the holder; free once released; other prefixes are apart', async () => {
    const prefix = freshPrefix();
    const a = lock(prefix, 1);
    await a.acquire();
    expect(await refusal(lock(prefix, 2).acquire())).toMatch(new RegExp(`prefix ${prefix}, is in use by the hull daemon on h1 \\(pid 1, root /r1, since .*\\): one daemon per store prefix .*expires within 10 s`));
    const other = lock(`${prefix}-x`, 3);
    await other.acquire();
    await a.release();
    const b = lock(prefix, 2);
    await b.acquire();
    await b.release();
    await other.release();
  });

  it('a holder that stopped keeping its lease alive (killed) frees the prefix when the lease expires; one known gone is taken over at once', async () => {
    const prefix = freshPrefix();
    const raw = new Etcd3({ hosts: etcd!.endpoint });
    try {
      // What a SIGKILLed daemon leaves: its key on a lease no one renews.
      const lease = raw.lease(2, { autoKeepAlive: false });
      await lease.put(`${prefix}/daemon/lock`).value(JSON.stringify(holder(7)));
      expect(await refusal(lock(prefix, 8, { ttlSec: 2 }).acquire())).toContain('(pid 7,');
      const t0 = Date.now();
      let got: DaemonLock | undefined;
      while (!got) {
        const l = lock(prefix, 8, { ttlSec: 2 });
        got = await l.acquire().then(() => l, () => undefined);
        if (!got) await new Promise((r) => setTimeout(r, 200));
        expect(Date.now() - t0).toBeLessThan(8000);
      }
      await got.release();

      await raw.lease(60, { autoKeepAlive: false }).put(`${prefix}/daemon/lock`).value(JSON.stringify(holder(9)));
      const asked: number[] = [];
      const takeover = lock(prefix, 10, { holderGone: async (h) => (asked.push(h.pid), true) });
      await takeover.acquire();
      expect(asked).toEqual([9]);
      expect(JSON.parse((await raw.get(`${prefix}/daemon/lock`).string())!).pid).toBe(10);
      await takeover.release();
      expect(await raw.get(`${prefix}/daemon/lock`).string()).toBeNull();
    } finally {
      raw.close();
    }
  });

  it('is lost, said once, before its lease can expire when etcd stops answering; then another may take it', async () => {
    const prefix = freshPrefix();
    const a = lock(prefix, 1, { ttlSec: 3 });
    await a.acquire();
    const lost: Array<{ why: string; at: number }> = [];
    a.onLost((why) => lost.push({ why, at: Date.now() }));
    const stoppedAt = Date.now();
    etcd!.child.kill('SIGSTOP');
    try {
      while (!lost.length && Date.now() - stoppedAt < 6000) await new Promise((r) => setTimeout(r, 100));
    } finally {
      etcd!.child.kill('SIGCONT');
    }
    expect(lost).toHaveLength(1);
    expect(lost[0].why).toMatch(new RegExp(`no keepalive answered by etcd at ${etcd!.endpoint}`));
    // Before the 3 s lease could have run out on etcd's side (it was renewed at most 3 s before the stop).
    expect(lost[0].at - stoppedAt).toBeLessThan(3000);
    await a.release();
    const b = lock(prefix, 2, { ttlSec: 3 });
    await b.acquire();
    await b.release();
    expect(lost).toHaveLength(1);
  });
});
