import { HullError, conflict, invalid, notFound } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { APP_LABEL, type Service } from '../../core/service.js';
import type { Store } from '../../store/store.js';
import type { AppNetwork, AppService } from '../compose/app.js';
import { readCompose, type ComposeInput } from '../compose/index.js';
import { compileConstraints } from '../placement/constraints.js';
import type { ServiceController, ServiceEvent } from './controller.js';
import { decideIsolation } from './isolation.js';
import { applyService, newRevision, type ApplyChange } from './revisions.js';

/** An app as kept in the store: what its last apply made, so delete removes exactly that. */
export interface AppRecord {
  id: string;
  name: string;
  file: string;
  appliedAt: string;
  services: string[];
  /** Networks apply created (external ones are not the app's). */
  networks: string[];
}

export interface AppNetworks {
  exists(name: string): Promise<{ labels: Record<string, string> } | undefined>;
  create(n: AppNetwork, app: string): Promise<void>;
  remove(name: string): Promise<void>;
}

export interface AppDeps {
  store: Store;
  controller: ServiceController;
  networks: AppNetworks;
  /** The image a reference names now (container images), or undefined when it is not here (it is pulled at the replica's create). */
  imageId(ref: string): Promise<string | undefined>;
  /** A VM image's id, or why it cannot be used. */
  vmImageId(ref: string): Promise<string | undefined>;
  emit(e: ServiceEvent): void;
  /** Whether replicas can have mounts (volumes, binds, tmpfs). */
  mounts?: boolean;
}

export interface ApplyRequest extends ComposeInput {
  /** Only say what would change (`hull diff`). */
  dryRun?: boolean;
  /** Also remove the app's services that the file no longer has (`docker stack deploy --prune`). */
  prune?: boolean;
}

export interface Change {
  kind: 'service' | 'network';
  name: string;
  change: ApplyChange | 'delete' | 'keep';
  diff: string[];
}

export interface ApplyResult {
  app: string;
  warnings: string[];
  changes: Change[];
}

/**
 * Apps: `hull apply`, `diff` and `delete` over the Compose file's services
 * and networks. Apply changes only what differs (the services' revisions,
 * replicas, settings; networks that are missing); the controller does the
 * rest. A bad file changes nothing: everything is checked before the first
 * write.
 */
export class Apps {
  constructor(private d: AppDeps) {}

  async apply(req: ApplyRequest): Promise<ApplyResult> {
    const { app, warnings } = readCompose(req);
    const services = await this.d.store.list<Service>('service');
    const prior = await this.d.store.getByName<AppRecord>('app', app.name);
    const changes: Change[] = [];
    for (const s of app.services) {
      const other = services.find((x) => x.name === s.name && x.app !== app.name);
      if (other) throw conflict(`service "${s.name}" belongs to app "${other.app}": rename it in ${req.file}, or delete that app`);
      try {
        compileConstraints(s.spec.placement.constraints);
      } catch (e) {
        throw invalid(`${req.file}: services.${s.name}.deploy.placement.constraints: ${(e as Error).message}`);
      }
      if (s.spec.kind === 'vm' && !(await this.d.vmImageId(s.spec.vm!.image))) throw notFound(`VM image "${s.spec.vm!.image}" of service ${s.name}`);
      if (s.spec.mounts.length && !this.d.mounts) throw invalid(`${req.file}: services.${s.name}.volumes: this daemon has no volumes yet: remove them (or use a Hull with volumes)`);
    }
    const netChanges = await this.networkPlan(app.name, app.networks, app.services);
    changes.push(...netChanges.map((n) => ({ kind: 'network' as const, name: n.name, change: n.change, diff: [] })));
    const planned: Array<{ applied: ReturnType<typeof applyService>; existed: boolean }> = [];
    const now = new Date();
    for (const s of app.services) {
      const cur = services.find((x) => x.name === s.name);
      const applied = applyService(cur, { ...withIsolation(s), app: app.name, imageId: await this.templateImage(s), id: cur?.id ?? newId() }, now);
      planned.push({ applied, existed: !!cur });
      changes.push({ kind: 'service', name: s.name, change: applied.change, diff: applied.diff });
    }
    const gone = services.filter((x) => x.app === app.name && !app.services.some((s) => s.name === x.name));
    for (const g of gone) changes.push({ kind: 'service', name: g.name, change: req.prune ? 'delete' : 'keep', diff: req.prune ? [] : ['not in the file: kept (apply --prune removes it)'] });
    if (req.dryRun) return { app: app.name, warnings, changes };

    for (const n of netChanges) if (n.change === 'create') await this.d.networks.create(n.net, app.name);
    for (const { applied, existed } of planned) {
      const s = applied.service;
      if (applied.change === 'none') continue;
      if (existed) await this.d.store.update<Service>('service', s.id, () => s);
      else await this.d.store.create('service', s.id, s.name, s);
      this.d.emit({ action: applied.change, service: { id: s.id, name: s.name, app: s.app }, reason: applied.diff.join('; ') });
    }
    if (req.prune) for (const g of gone) await this.removeService(g);
    const made = [...new Set([...(prior?.networks ?? []), ...netChanges.filter((n) => n.change === 'create').map((n) => n.name)])];
    const record: AppRecord = { id: prior?.id ?? newId(), name: app.name, file: req.file, appliedAt: now.toISOString(), services: [...new Set([...(prior?.services ?? []), ...app.services.map((s) => s.name)])].filter((n) => !req.prune || app.services.some((s) => s.name === n)), networks: made };
    if (prior) await this.d.store.update<AppRecord>('app', prior.id, () => record);
    else await this.d.store.create('app', record.id, record.name, record);
    return { app: app.name, warnings, changes };
  }

  /** `hull delete -f FILE` (or `hull app rm NAME`): every service of the app, then the networks apply made. */
  async delete(appName: string): Promise<ApplyResult> {
    const rec = await this.d.store.getByName<AppRecord>('app', appName);
    const services = (await this.d.store.list<Service>('service')).filter((s) => s.app === appName);
    if (!rec && !services.length) throw notFound(`app "${appName}"`);
    const changes: Change[] = [];
    for (const s of services) {
      await this.removeService(s);
      changes.push({ kind: 'service', name: s.name, change: 'delete', diff: [] });
    }
    for (const n of rec?.networks ?? []) {
      try {
        await this.d.networks.remove(n);
        changes.push({ kind: 'network', name: n, change: 'delete', diff: [] });
      } catch (e) {
        if (!(e instanceof HullError)) throw e;
        if (e.code !== 'not_found') throw e.wrap(`app ${appName}'s services are gone, its network ${n} is kept`);
      }
    }
    if (rec) await this.d.store.delete('app', rec.id);
    return { app: appName, warnings: [], changes };
  }

  async removeService(s: Service): Promise<void> {
    await this.d.store.delete('service', s.id);
    await this.d.controller.teardown(s.id, s.spec);
    this.d.emit({ action: 'remove', service: { id: s.id, name: s.name, app: s.app }, reason: 'deleted' });
  }

  /** `hull service scale web=5`: replicas only, no new revision. */
  async scale(name: string, replicas: number): Promise<Service> {
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > 1000) throw invalid(`replicas must be a whole number from 0 to 1000, not ${replicas}`);
    const s = await this.get(name);
    const a = s.spec.autoscale;
    if (a && (replicas < a.min || replicas > a.max)) throw invalid(`service ${name} is autoscaled between ${a.min} and ${a.max} replicas: change x-hull.autoscale to go outside that`);
    const next = await this.d.store.update<Service>('service', s.id, (cur) => ({ ...cur, replicas, updatedAt: new Date().toISOString() }));
    this.d.emit({ action: 'scale', service: { id: s.id, name: s.name, app: s.app }, reason: `replicas: ${s.replicas} → ${replicas} (by hand)` });
    return next;
  }

  /** `hull rollout undo web [--to-revision N]`: a new revision with an earlier one's template. */
  async undo(name: string, toRevision?: number): Promise<Service> {
    const s = await this.get(name);
    const earlier = s.history.filter((h) => h.revision < s.revision);
    const target = toRevision === undefined ? earlier[earlier.length - 1] : s.history.find((h) => h.revision === toRevision);
    if (!target) throw notFound(toRevision === undefined ? `an earlier revision of service ${name}` : `revision ${toRevision} of service ${name} (kept: ${s.history.map((h) => h.revision).join(', ')})`);
    if (target.revision === s.revision) throw invalid(`service ${name} is at revision ${s.revision} already`);
    const next = newRevision(s, target.spec, target.imageId, `undo to revision ${target.revision}`, new Date());
    await this.d.store.update<Service>('service', s.id, () => next);
    this.d.emit({ action: 'undo', service: { id: s.id, name: s.name, app: s.app }, reason: `to the template of revision ${target.revision} (as revision ${next.revision})` });
    return next;
  }

  async get(name: string): Promise<Service> {
    const s = (await this.d.store.getByName<Service>('service', name)) ?? (await this.d.store.get<Service>('service', name));
    if (!s) throw notFound(`service "${name}"`);
    return s;
  }

  async list(): Promise<Service[]> {
    return this.d.store.list<Service>('service');
  }

  /** The image part of a revision's template: its id now, or the reference until it is here. */
  private async templateImage(s: AppService): Promise<string> {
    if (s.spec.kind === 'vm') return `vm:${(await this.d.vmImageId(s.spec.vm!.image)) ?? s.spec.vm!.image}`;
    return (await this.d.imageId(s.spec.image)) ?? `ref:${s.spec.image}`;
  }

  private async networkPlan(app: string, nets: AppNetwork[], services: AppService[]) {
    const used = new Set(services.flatMap((s) => s.spec.networks.map((n) => n.name)));
    const out: Array<{ name: string; change: 'create' | 'none'; net: AppNetwork }> = [];
    for (const n of nets.filter((x) => used.has(x.name))) {
      const cur = await this.d.networks.exists(n.name);
      if (n.external) {
        if (!cur) throw notFound(`external network "${n.name}" (create it first: hull network create ${n.name})`);
        continue;
      }
      if (cur && cur.labels[APP_LABEL] !== app) throw conflict(`network "${n.name}" exists and was not made by app ${app}: mark it external: true in the file, or give the app's network another name`);
      out.push({ name: n.name, change: cur ? 'none' : 'create', net: n });
    }
    return out;
  }
}

/** The isolation `x-hull: { isolation: auto }` chose, with its reason, in the spec. */
function withIsolation(s: AppService): AppService {
  const d = decideIsolation(s);
  return { ...s, spec: { ...s.spec, isolation: d.isolation, isolationReason: d.reason } };
}
