/**
 * What one network's name server lets its clients hold: a container must not
 * be able to take the daemon's event loop, memory or file descriptors by
 * flooding its name server (docs/networking.md, "Limits"). A client is a
 * source address; the totals bound what many clients (or one spoofing many
 * addresses) can hold together.
 */
export interface DnsLimits {
  /** Queries a client may send per second; the rest are dropped unread. */
  clientRate: number;
  /** Queries the whole server takes per second (after each client's rate); the rest are dropped. */
  serverRate: number;
  /** Forwards to the upstreams one client may have waiting; more are answered REFUSED. */
  clientPending: number;
  /** Forwards the server may have waiting in all. */
  serverPending: number;
  /** Forwards all the daemon's name servers may have waiting together (each holds a socket: file descriptors). */
  processPending: number;
  /** How long one upstream has to answer before the next is tried (SERVFAIL after the last). */
  timeoutMs: number;
  /** Open DNS-over-TCP connections, per client and in all. */
  clientTcp: number;
  serverTcp: number;
  /** A TCP connection with nothing to say for this long is closed. */
  tcpIdleMs: number;
}

export const DEFAULT_LIMITS: DnsLimits = {
  clientRate: 1000,
  serverRate: 10_000,
  clientPending: 256,
  serverPending: 1024,
  processPending: 4096,
  timeoutMs: 2000,
  clientTcp: 8,
  serverTcp: 64,
  tcpIdleMs: 10_000,
};

/** Counts per key, keys at zero forgotten (so the map holds only what is in use). */
export class Counts {
  private m = new Map<string, number>();
  get(k: string): number {
    return this.m.get(k) ?? 0;
  }
  add(k: string, d: number): void {
    const n = this.get(k) + d;
    if (n > 0) this.m.set(k, n);
    else this.m.delete(k);
  }
}

/**
 * Fixed one-second windows: `take(client)` says whether one more query fits
 * both the client's rate and the server's. The map is dropped whole at each
 * new window, so spoofed source addresses cannot make it grow past one
 * second's worth of packets.
 */
export class RateWindow {
  private start = 0;
  private perClient = new Map<string, number>();
  private total = 0;

  constructor(
    private clientRate: number,
    private serverRate: number,
    private now: () => number = Date.now,
  ) {}

  take(client: string): boolean {
    const t = this.now();
    if (t - this.start >= 1000) {
      this.start = t;
      this.perClient.clear();
      this.total = 0;
    }
    const n = (this.perClient.get(client) ?? 0) + 1;
    this.perClient.set(client, n);
    if (n > this.clientRate || this.total >= this.serverRate) return false;
    this.total++;
    return true;
  }
}
