import { noop } from 'cockatiel';
import { ClientClosedError, GRPCDeadlineExceededError, isRecoverableError } from 'etcd3';
import { HullError, toHullError } from '../../core/errors.js';
import { withDeadline } from '../../core/poll.js';

/**
 * No retries inside the client: etcd3 by default retries a call that failed
 * with a deadline or a dropped connection, and a transaction may have been
 * applied before it failed, so a retried compare-and-swap could apply one
 * update twice. The store retries only a transaction whose compare failed.
 * No circuit breaker either: each call tries etcd, and fails on its own
 * deadline, or at once when nothing listens.
 */
export const noRetry = () => ({ global: noop, host: () => noop });

/** An etcd client error as a HullError naming the endpoint: 'unavailable' when etcd cannot be reached or did not answer. */
export function toStoreError(e: unknown, where: string, what: string, timeoutMs: number): HullError {
  if (e instanceof HullError) return e;
  if (e instanceof GRPCDeadlineExceededError) {
    return new HullError('unavailable', `${where}: no answer to ${what} within ${timeoutMs} ms (a write may or may not have been applied)`);
  }
  if (e instanceof ClientClosedError) return new HullError('unavailable', `${where}: the store is closed`);
  if (e instanceof Error && isRecoverableError(e)) return new HullError('unavailable', `${where}: ${what} failed: ${e.message}`);
  return toHullError(e).wrap(`${where}: ${what}`);
}

/**
 * One etcd call bounded twice: by the gRPC deadline it is given and by a timer of its own (a
 * stuck dial or watch start ignores the deadline); any failure becomes toStoreError's.
 */
export async function bounded<R>(where: string, timeoutMs: number, what: string, fn: (opts: { deadline: number }) => Promise<R>): Promise<R> {
  try {
    return await withDeadline(fn({ deadline: Date.now() + timeoutMs }), timeoutMs + 100, () => new HullError('unavailable', `${where}: no answer to ${what} within ${timeoutMs} ms`));
  } catch (e) {
    throw toStoreError(e, where, what, timeoutMs);
  }
}
