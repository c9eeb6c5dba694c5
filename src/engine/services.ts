import type { ApplyResult, ReplicaRow, ServiceDetail, ServiceSummary } from '../api/contract/services.js';
import type { Instance } from '../core/instance.js';
import { REVISION_LABEL, SLOT_LABEL, type Service } from '../core/service.js';
import type { ImageService } from '../image/image-service.js';
import type { NetworkManager } from '../net/manager.js';
import type { Nodes } from '../orchestrator/nodes/nodes.js';
import { readCompose } from '../orchestrator/compose/index.js';
import { Apps, type ApplyRequest } from '../orchestrator/services/apps.js';
import { Autoscaler } from '../orchestrator/services/autoscaler.js';
import { ServiceController, type ServiceEvent } from '../orchestrator/services/controller.js';
import { inRotation, viewOf } from '../orchestrator/services/replicas.js';
import type { Store } from '../store/store.js';
import type { Engine } from './engine.js';
import type { Logger } from './logger.js';
import { replicaOps } from './replicas.js';

/**
 * Services, as the API sees them: apply/diff/delete of Compose apps, scale,
 * undo, and the views (`service ls`, `inspect`, `ps`). The controller and the
 * autoscaler run in the background from start() to close().
 */
export class Services {
  readonly controller: ServiceController;
  readonly apps: Apps;
  /** The nodes replicas are placed on (one on a single host): `hull node ls|inspect|update`. */
  readonly nodes: Nodes;
  private autoscaler: Autoscaler;

  constructor(private d: { engine: Engine; store: Store; images: ImageService; net: NetworkManager; log: Logger; nodes: Nodes }) {
    this.nodes = d.nodes;
    const replicas = replicaOps(d.engine, d.store, d.images);
    // Every action the orchestrator takes, with its reason (`hull events --filter service=web`).
    const emit = (e: ServiceEvent) => void d.engine.eventLog.publish('service', e.action, e.service.id, { name: e.service.name, app: e.service.app, ...(e.replica ? { replica: e.replica } : {}), reason: e.reason });
    this.controller = new ServiceController({ store: d.store, replicas, net: d.net.services, nodes: () => d.nodes.views(), drainingNodes: () => d.nodes.draining(), emit, log: d.log });
    this.apps = new Apps({
      store: d.store,
      controller: this.controller,
      networks: {
        exists: async (name) => (await d.net.networks()).find((n) => n.name === name && !n.removing),
        create: async (n, app) => {
          await d.net.create({ name: n.name, subnet: n.subnet, gateway: n.gateway, ipRange: n.ipRange, internal: n.internal, labels: { ...n.labels, 'hull.app': app } });
        },
        remove: (name) => d.net.remove(name),
      },
      imageId: async (ref) => (await d.images.resolve(ref).catch(() => undefined))?.id,
      vmImageId: async (ref) => {
        try {
          return (await d.engine.vmImages().get(ref)).id;
        } catch {
          return undefined;
        }
      },
      emit,
      mounts: true,
    });
    this.autoscaler = new Autoscaler({ store: d.store, replicas, emit, log: d.log });
  }

  async start(): Promise<void> {
    await this.controller.start();
    this.autoscaler.start();
  }

  async close(): Promise<void> {
    this.autoscaler.close();
    await this.controller.close();
  }

  apply(req: ApplyRequest): Promise<ApplyResult> {
    return this.apps.apply(req);
  }

  /** `hull delete -f FILE`: the file names the app (its `name:`, -p, or its base name). */
  async deleteFile(req: ApplyRequest): Promise<ApplyResult> {
    return this.apps.delete(readCompose(req).app.name);
  }

  async list(): Promise<ServiceSummary[]> {
    const all = await this.d.store.list<Instance>('instance');
    return (await this.apps.list()).map((s) => summary(s, all.filter((i) => i.owner?.id === s.id), this.controller));
  }

  async inspect(ref: string): Promise<ServiceDetail> {
    const s = await this.apps.get(ref);
    const owned = (await this.d.store.list<Instance>('instance')).filter((i) => i.owner?.id === s.id);
    return {
      ...summary(s, owned, this.controller),
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
      isolationReason: s.spec.isolationReason ?? '',
      spec: s.spec,
      status: s.status,
      history: s.history.map((h) => ({ revision: h.revision, createdAt: h.createdAt, cause: h.cause, hash: h.hash, image: h.spec.image || `vm:${h.spec.vm?.image}` })),
      replicasDetail: rows(s, owned, this.controller, await this.nodeNames()),
    };
  }

  async replicas(ref: string): Promise<ReplicaRow[]> {
    const s = await this.apps.get(ref);
    return rows(s, (await this.d.store.list<Instance>('instance')).filter((i) => i.owner?.id === s.id), this.controller, await this.nodeNames());
  }

  private async nodeNames(): Promise<Map<string, string>> {
    return new Map((await this.nodes.list()).map((n) => [n.id, n.name]));
  }

  async scale(ref: string, n: number): Promise<ServiceSummary> {
    const s = await this.apps.scale(ref, n);
    return summary(s, [], this.controller);
  }

  async undo(ref: string, to?: number): Promise<ServiceSummary> {
    const s = await this.apps.undo(ref, to);
    return summary(s, [], this.controller);
  }

  async remove(ref: string): Promise<void> {
    await this.apps.removeService(await this.apps.get(ref));
  }
}

function summary(s: Service, owned: Instance[], ctl: ServiceController): ServiceSummary {
  const ready = owned.filter((i) => {
    const v = viewOf(i, s);
    return v !== undefined && v.revision === s.revision && inRotation(v, new Set(owned.filter((x) => ctl.isDraining(x.id)).map((x) => x.id)));
  }).length;
  return {
    id: s.id,
    name: s.name,
    app: s.app,
    kind: s.spec.kind,
    isolation: s.spec.isolation,
    image: s.spec.image || `vm:${s.spec.vm?.image}`,
    mode: s.spec.endpointMode,
    replicas: s.replicas,
    ready,
    revision: s.revision,
    rollout: s.status.rollout.state,
    ports: s.status.publishedPorts.map((p) => `${p.hostIp || '0.0.0.0'}:${p.published}->${p.target}/${p.protocol}`),
    vips: s.status.vips,
    message: s.status.message,
  };
}

function rows(s: Service, owned: Instance[], ctl: ServiceController, nodeNames: Map<string, string>): ReplicaRow[] {
  return owned
    .map((i) => {
      const v = viewOf(i, s);
      const draining = ctl.isDraining(i.id);
      return {
        id: i.id,
        name: i.name,
        slot: Number(i.config.labels[SLOT_LABEL]) || 0,
        // The revision whose template it runs (a rollback's replicas are an earlier revision's).
        revision: v && v.revision > 0 ? v.revision : Number(i.config.labels[REVISION_LABEL]) || 0,
        state: i.state.status,
        health: i.state.status === 'running' ? (i.state.health?.status ?? (i.config.healthcheck ? 'starting' : 'none')) : 'none',
        ready: !!v && inRotation(v, draining ? new Set([i.id]) : new Set()),
        draining,
        node: (i.node && nodeNames.get(i.node)) ?? i.node ?? '',
        addresses: Object.fromEntries((i.config.networks ?? []).map((a) => [a.network, a.ipAddress])),
        restarts: i.state.restartCount,
        exitCode: i.state.exitCode,
        ...(i.state.nextRestartAt ? { nextRestartAt: i.state.nextRestartAt } : {}),
        error: i.state.error,
        startedAt: i.state.startedAt,
        kind: (i.type === 'vm' ? 'vm' : i.config.isolation === 'vm' ? 'container(vm)' : 'container') as ReplicaRow['kind'],
      };
    })
    .sort((a, b) => a.slot - b.slot || a.revision - b.revision);
}
