import type { Instance } from '../../core/instance.js';
import type { Service } from '../../core/service.js';
import type { Store } from '../../store/store.js';
import { decideScale } from './autoscale.js';
import type { ServiceEvent } from './controller.js';
import type { ReplicaOps } from './ports.js';
import { viewOf } from './replicas.js';

/** How often replicas' CPU is sampled: a load is seen within two samples, well inside Kubernetes' 15 s. */
export const SAMPLE_MS = 5000;

/**
 * Autoscaling (x-hull.autoscale): every few seconds, each autoscaled
 * service's ready replicas' CPU use since the last sample (cgroup CPU time
 * for containers, QEMU's for VMs, against the replica's CPU limit or one CPU)
 * goes through Kubernetes' rule (autoscale.ts); a change of the replica count
 * is written to the service like `service scale`, with the figures in the event.
 */
export class Autoscaler {
  private last = new Map<string, { at: number; usageNs: number }>();
  private history = new Map<string, Array<{ at: number; replicas: number }>>();
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(private d: { store: Store; replicas: ReplicaOps; emit(e: ServiceEvent): void; log: { warn(o: object, m: string): void }; sampleMs?: number }) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.d.sampleMs ?? SAMPLE_MS);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (const svc of await this.d.store.list<Service>('service')) {
        if (!svc.spec.autoscale) continue;
        await this.one(svc).catch((e) => this.d.log.warn({ service: svc.name, err: String(e) }, 'autoscaling failed'));
      }
    } finally {
      this.running = false;
    }
  }

  private async one(svc: Service): Promise<void> {
    const policy = svc.spec.autoscale!;
    const now = Date.now();
    const ready = (await this.d.replicas.owned(svc.id)).filter((i: Instance) => viewOf(i, svc)?.phase === 'ready');
    const usage: number[] = [];
    for (const r of ready) {
      const { usageNs, limit } = await this.d.replicas.cpu(r.id);
      const prev = this.last.get(r.id);
      this.last.set(r.id, { at: now, usageNs });
      if (!prev || now <= prev.at || usageNs < prev.usageNs) continue;
      usage.push(((usageNs - prev.usageNs) / 1e6 / (now - prev.at) / (limit || 1)) * 100);
    }
    let history = this.history.get(svc.id);
    // A service autoscaled from now on scales down only after a window of its own samples.
    if (!history) this.history.set(svc.id, (history = [{ at: now, replicas: svc.replicas }]));
    const d = decideScale({ current: svc.replicas, usage, policy, history, now });
    history.push({ at: now, replicas: d.recommended });
    this.history.set(svc.id, history.filter((h) => h.at >= now - policy.scaleDownWindowMs));
    if (d.replicas === svc.replicas) return;
    await this.d.store.update<Service>('service', svc.id, (cur) => ({
      ...cur,
      replicas: d.replicas,
      status: { ...cur.status, autoscale: { ...cur.status.autoscale, lastCpuPercent: avg(usage), message: d.reason, ...(d.replicas > svc.replicas ? { lastScaleUpAt: new Date(now).toISOString() } : { lastScaleDownAt: new Date(now).toISOString() }) } },
    }));
    this.d.emit({ action: 'autoscale', service: { id: svc.id, name: svc.name, app: svc.app }, reason: d.reason });
  }
}

const avg = (xs: number[]) => (xs.length ? Math.round(xs.reduce((a, b) => a + b, 0) / xs.length) : 0);
