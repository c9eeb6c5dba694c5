import { circuitBreaker, ConsecutiveBreaker, handleWhen, isBrokenCircuitError, noop } from 'cockatiel';
import { ClientClosedError, GRPCDeadlineExceededError, GRPCUnavailableError, isRecoverableError } from 'etcd3';
import { HullError, toHullError } from '../../core/errors.js';
import { withDeadline } from '../../core/poll.js';

/** How long a member that failed is passed over before one call tries it again. */
export const HALF_OPEN_MS = 2000;

/**
 * No retries inside the client: etcd3 by default retries a call that failed
 * with a deadline or a dropped connection, and a transaction may have been
 * applied before it failed, so a retried compare-and-swap could apply one
 * update twice. The store retries only a transaction whose compare failed,
 * and (bounded) a call that never reached etcd (neverSent), or a read.
 * With several endpoints (the members of one etcd cluster), a member that
 * failed a call is passed over for HALF_OPEN_MS (a circuit breaker per
 * host), so the calls go to the members that answer; with one there is
 * nothing to pass to, and each call tries it and fails on its own deadline,
 * or at once when nothing listens.
 */
export const faultHandling = (endpoints: number) => ({
  global: noop,
  host: () => (endpoints > 1 ? circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: HALF_OPEN_MS, breaker: new ConsecutiveBreaker(1) }) : noop),
});

/** The call reached no etcd member (no connection, or every member passed over): nothing was applied. */
export function neverSent(e: unknown): boolean {
  return isBrokenCircuitError(e) || (e instanceof GRPCUnavailableError && /No connection established|ECONNREFUSED/i.test(e.message));
}

/** An etcd client error as a HullError naming the endpoint: 'unavailable' when etcd cannot be reached or did not answer. */
export function toStoreError(e: unknown, where: string, what: string, timeoutMs: number): HullError {
  if (e instanceof HullError) return e;
  if (e instanceof GRPCDeadlineExceededError) {
    return new HullError('unavailable', `${where}: no answer to ${what} within ${timeoutMs} ms (a write may or may not have been applied)`);
  }
  if (e instanceof ClientClosedError) return new HullError('unavailable', `${where}: the store is closed`);
  if (isBrokenCircuitError(e)) return new HullError('unavailable', `${where}: ${what} failed: no member answers (each failed within the last ${HALF_OPEN_MS / 1000} s)`);
  if (e instanceof Error && isRecoverableError(e)) return new HullError('unavailable', `${where}: ${what} failed: ${e.message}`);
  return toHullError(e).wrap(`${where}: ${what}`);
}

/**
 * One etcd call bounded twice: by the gRPC deadline it is given and by a timer of its own (a
 * stuck dial or watch start ignores the deadline); any failure becomes toStoreError's. With
 * `attempts` > 1 (several members), a call that never reached etcd, or a read (`idempotent`)
 * whose member went away, goes again (to another member: the failed one is passed over).
 */
export async function bounded<R>(where: string, timeoutMs: number, what: string, fn: (opts: { deadline: number }) => Promise<R>, opts: { attempts?: number; idempotent?: boolean } = {}): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withDeadline(fn({ deadline: Date.now() + timeoutMs }), timeoutMs + 100, () => new HullError('unavailable', `${where}: no answer to ${what} within ${timeoutMs} ms`));
    } catch (e) {
      const again = attempt < (opts.attempts ?? 1) && (neverSent(e) || (!!opts.idempotent && e instanceof GRPCUnavailableError));
      if (!again) throw toStoreError(e, where, what, timeoutMs);
    }
  }
}
