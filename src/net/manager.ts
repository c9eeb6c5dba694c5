import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HullError, invalid, isHullError, notFound, conflict } from '../core/errors.js';
import type { EventSink } from '../core/events.js';
import { shortId } from '../core/ids.js';
import { idMapOf, type Instance, type InstanceType } from '../core/instance.js';
import type { Network, NetworkAttachment, NetworkMode, PortMapping } from '../core/network.js';
import { Reverter } from '../core/reverter.js';
import type { NetworkContext, TapDevice } from '../runtime/driver.js';
import { MAX_INTERFACES, askerNetworks, checkRequest, hostIfName, lookupName, portRules, toEndpoints, type Live } from './attachments.js';
import type { Store } from '../store/store.js';
import { removeContainerFiles, writeContainerFiles } from './container-files.js';
import { DnsServer, hostUpstreams, type Upstream } from './dns/server.js';
import { allocate, holders, release } from './ipam.js';
import { macForIp, parseCidr, parseIp } from './ipv4.js';
import * as link from './link.js';
import { DEFAULT_NETWORK, NetworkCreateSchema, findNetwork, planNetwork, type NetworkCreateOptions } from './networks.js';
import { applyRouterGuard, deleteTable } from './nft.js';
import { PORTS_DOC_ID, holdHostPort, hostPortFree, reserve, unreserve, type PortsDoc } from './ports.js';
import { RuleSync } from './rule-sync.js';
import { lookupService, serviceRules } from './service-lb.js';
import { ServiceNet } from './service-net.js';
import { sweepHost } from './sweep.js';

export interface NetLogger {
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
}

export interface NetworkManagerOptions {
  root: string;
  store: Store;
  log: NetLogger;
  /** From scopeNames(): this root's nftables table and netns prefix. */
  table: string;
  netnsPrefix: string;
  /** The uid a VM's taps belong to: its QEMU's, which opens them without privileges (runtime/qemu/confine.ts). */
  tapOwner?: (inst: Instance) => Promise<number | undefined>;
  /** Where network events go (create, connect, disconnect, destroy), as docker reports them. */
  events?: EventSink;
}

/** What a create asks for: networks by name (none given: the default), aliases, a fixed address, ports (exposed ones included). */
export interface NetRequest {
  networks?: string[];
  aliases: string[];
  ip?: string;
  ports: PortMapping[];
}

/** A running VM's cards, added and removed as its taps are (the QEMU driver's nicAdd/nicRemove). */
export interface NicHotplug {
  add(tap: TapDevice): Promise<void>;
  remove(tap: TapDevice): Promise<void>;
}

export interface NetPlan {
  networkMode: NetworkMode;
  networks: NetworkAttachment[];
  ports: PortMapping[];
}

/**
 * NetworkManager: networks as stored resources and instances' places on
 * them. The engine calls it at each step of an instance's life:
 *
 *   allocate(inst, req, r)   at create: addresses (IPAM) and host ports, in store transactions
 *   up(inst)                 before the process starts: namespace, veths, /etc files, rules, DNS
 *   down(inst)               after it exits: unplug (idempotent)
 *   release(inst)            at rm: give addresses and ports back
 *   recover(instances)       at daemon start: re-adopt, remove orphans, rebuild rules from records
 *
 * The records (networks, allocations, reservations, instance configs) are the
 * truth; bridges, namespaces, veths, nftables rules and DNS answers are made
 * from them and can always be rebuilt.
 */
export class NetworkManager {
  private dns = new Map<string, DnsServer>();
  /** The networks up now that are not internal: their members' names may be forwarded from an internal network's server. */
  private openNets = new Set<string>();
  private live = new Map<string, Live>();
  /** Published ports held on the host while their instance runs (ports.ts holdHostPort). */
  private holds = new Map<string, Array<() => Promise<void>>>();
  /** Instances being plugged in right now: recovery's sweep must not take their namespace for an orphan. */
  private plugging = new Set<string>();
  /** Network creates and removals, one at a time: subnet overlap checks read what the previous one wrote. */
  private netOps: Promise<unknown> = Promise.resolve();
  /** Why networking could not start (no `ip` or `nft`, say): bridge networks then fail with it, none and host still work. */
  private unavailable?: HullError;
  private upstreams: Upstream[] = [];
  private rules: RuleSync;
  /** Services: their addresses, ingress ports and balancer view (service-net.ts). */
  readonly services: ServiceNet;
  /** Rotates dnsrr answers. */
  private turn = 0;

  constructor(private o: NetworkManagerOptions) {
    this.rules = new RuleSync(() => this.ruleModel());
    this.services = new ServiceNet({ store: o.store, networks: () => this.networks(), sync: () => this.rules.sync(), log: o.log });
  }

  get table(): string {
    return this.o.table;
  }

  /** docker's network events: the network is the actor; connect and disconnect name the container. */
  private emit(action: 'create' | 'destroy' | 'connect' | 'disconnect', n: { id: string; name: string }, containerId?: string): void {
    this.o.events?.publish('network', action, n.id, { name: n.name, type: 'bridge', ...(containerId ? { container: containerId } : {}) });
  }

  // ---- the subsystem ----

  /** Before engine recovery: the ports record, the default network, every bridge and name server. */
  async start(): Promise<void> {
    try {
      await this.startNetworks();
    } catch (e) {
      this.unavailable = new HullError('unavailable', `networking is not available: ${(e as Error).message}`);
      this.o.log.warn({ err: String(e) }, 'bridge networks are not available; --network none and host still work');
    }
  }

  private async startNetworks(): Promise<void> {
    await mkdir(join(this.o.root, 'net'), { recursive: true, mode: 0o711 });
    await this.o.store.create<PortsDoc>('meta', PORTS_DOC_ID, null, { id: PORTS_DOC_ID, reservations: [] }).catch((e) => {
      if (!isHullError(e, 'conflict')) throw e;
    });
    this.upstreams = await hostUpstreams();
    for (const n of await this.networks()) {
      if (n.removing) await this.finishRemove(n);
    }
    if (!(await this.networks()).some((n) => n.isDefault)) await this.create({ name: DEFAULT_NETWORK }, true);
    for (const n of await this.networks()) {
      // One network that cannot come up (its subnet now routed elsewhere, say) must not take the others down.
      await this.bringUp(n).catch((e) => this.o.log.warn({ network: n.name, err: String(e) }, 'network could not be brought up'));
    }
    if (await link.enableForwarding()) this.o.log.info({}, 'turned on net.ipv4.ip_forward: containers reach other networks through the host');
    await applyRouterGuard(this.o.table).catch((e) => this.o.log.warn({ err: String(e) }, 'IPv6 router advertisements between instances are not filtered (no bridge-family nftables?)'));
  }

  /**
   * After engine recovery: instances running now keep their network; every
   * namespace, veth, address, port and file whose instance is gone or stopped
   * is removed; the rules are rebuilt from the records.
   */
  async recover(instances: Instance[]): Promise<void> {
    if (this.unavailable) return;
    // Services hold addresses (their VIPs) and ports too.
    const ids = new Set([...instances.map((i) => i.id), ...(await this.o.store.list<{ id: string }>('service')).map((s) => s.id)]);
    for (const inst of instances) {
      const s = inst.state.status;
      if ((s === 'running' || s === 'paused') && inst.config.networkMode === 'bridge' && (netKind(inst) === 'vm' || existsSync(link.netnsPath(this.nsName(inst.id))))) {
        this.setLive(inst);
        // Held again by this daemon; a program that took a port while none ran keeps it (said in the log).
        await this.holdPorts(inst).catch((e) => this.o.log.warn({ id: inst.id, err: String(e) }, 'published port not held'));
      }
    }
    await sweepHost({
      netnsPrefix: this.o.netnsPrefix,
      bridges: new Set((await this.networks()).map((n) => n.bridge)),
      inUse: (id12) => [...this.live.keys(), ...this.plugging].some((id) => shortId(id) === id12),
      log: (msg) => this.o.log.info({}, msg),
    });
    for (const n of await this.networks()) {
      for (const holder of holders(n).filter((h) => !ids.has(h))) await this.releaseAddress(n.id, holder);
    }
    await this.o.store.update<PortsDoc>('meta', PORTS_DOC_ID, (d) => ({ ...d, reservations: d.reservations.filter((r) => ids.has(r.instanceId)) }));
    for (const f of await readdir(join(this.o.root, 'net')).catch(() => [] as string[])) {
      if (/^[0-9a-f]{64}$/.test(f) && !ids.has(f)) await removeContainerFiles(this.o.root, f);
    }
    for (const ns of await readdir(join(this.o.root, 'net', 'userns')).catch(() => [] as string[])) {
      if (!existsSync(link.netnsPath(ns))) await link.deleteUsernsFile(this.usernsFile(ns));
    }
    await this.rules.sync();
  }

  /** Daemon shutdown: name servers stop; with nothing running, bridges and rules go too (the next start makes them again). */
  async shutdown(): Promise<void> {
    for (const s of this.dns.values()) s.close();
    this.dns.clear();
    await this.services.close();
    await Promise.all([...this.holds.keys()].map((id) => this.releasePorts(id)));
    await this.rules.idle();
    if (this.live.size) return;
    for (const n of await this.networks()) await link.deleteLink(n.bridge);
    await deleteTable(this.o.table);
  }

  // ---- networks ----

  async networks(): Promise<Network[]> {
    return this.o.store.list<Network>('network');
  }

  async get(ref: string): Promise<Network> {
    const n = findNetwork((await this.networks()).filter((x) => !x.removing), ref);
    if (!n) throw notFound(`network "${ref}"`);
    return n;
  }

  async create(input: NetworkCreateOptions, isDefault = false): Promise<Network> {
    return this.serial(() => this.createNow(input, isDefault));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.netOps.then(fn, fn);
    this.netOps = next.catch(() => undefined);
    return next;
  }

  private async createNow(input: NetworkCreateOptions, isDefault: boolean): Promise<Network> {
    if (this.unavailable && !isDefault) throw this.unavailable;
    const parsed = NetworkCreateSchema.safeParse(input);
    if (!parsed.success) throw invalid(`invalid network: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const net = planNetwork(parsed.data, await this.networks(), await link.hostRoutes(), isDefault);
    const r = new Reverter();
    try {
      await this.o.store.create('network', net.id, net.name, net);
      r.add(() => this.o.store.delete('network', net.id));
      r.add(() => this.bringDown(net));
      await this.bringUp(net);
      await this.rules.sync();
      r.success();
      this.emit('create', net);
      return net;
    } finally {
      await r.revert();
    }
  }

  /** Refused while any instance holds an address on it, and for the default network. */
  async remove(ref: string): Promise<void> {
    return this.serial(() => this.removeNow(ref));
  }

  private async removeNow(ref: string): Promise<void> {
    const net = await this.get(ref);
    if (net.isDefault) throw conflict(`network ${net.name} is the default network: it cannot be removed`);
    const names = new Map((await this.o.store.list<Instance>('instance')).map((i) => [i.id, i.name]));
    await this.o.store.update<Network>('network', net.id, (cur) => {
      const users = holders(cur);
      if (users.length) throw conflict(`network ${cur.name} is in use by ${users.map((u) => names.get(u) ?? shortId(u)).join(', ')}: remove them or disconnect them first`);
      return { ...cur, removing: true };
    });
    await this.finishRemove(net);
  }

  /**
   * `network prune`: every network no instance holds an address on (any
   * state, as `rm` would refuse), but the default; returns their names.
   */
  async prune(): Promise<string[]> {
    return this.serial(async () => {
      const removed: string[] = [];
      for (const n of await this.networks()) {
        if (n.isDefault || n.removing || holders(n).length) continue;
        try {
          await this.removeNow(n.id);
          removed.push(n.name);
        } catch (e) {
          // Taken by a create meanwhile: it stays.
          if (!(e instanceof HullError && e.code === 'conflict')) throw e;
        }
      }
      return removed;
    });
  }

  private async finishRemove(net: Network): Promise<void> {
    await this.bringDown(net);
    await this.o.store.delete('network', net.id);
    await this.rules.sync();
    this.emit('destroy', net);
  }

  /** The network, and who is on it. */
  async inspect(ref: string) {
    const net = await this.get(ref);
    const insts = new Map((await this.o.store.list<Instance>('instance')).map((i) => [i.id, i]));
    const containers = Object.entries(net.ipam.allocations).map(([ip, id]) => {
      const inst = insts.get(id);
      const att = inst?.config.networks?.find((a) => a.networkId === net.id);
      return { id, name: inst?.name ?? '', ipAddress: ip, macAddress: att?.macAddress ?? '', aliases: att?.aliases ?? [], running: this.live.has(id) };
    });
    const { ipam: _ipam, removing: _removing, ...rest } = net;
    return { ...rest, containers };
  }

  private async bringUp(n: Network): Promise<void> {
    const { prefix } = parseCidr(n.subnet);
    await link.ensureBridge(n.bridge, `${n.gateway}/${prefix}`, macForIp(parseIp(n.gateway)));
    if (!this.dns.has(n.id)) {
      const lookup = (name: string, client: string) => {
        const live = [...this.live.values()];
        const turn = this.turn++;
        const services = [...this.services.lbs.values()];
        return lookupName(live, n.id, name, client) ?? firstOf(askerNetworks(live, n.id, client), (id) => lookupService(services, id, name, turn));
      };
      // An internal network's members reach the outside world's names only when they are on an open network too (as docker).
      const forwards = n.internal ? (client: string) => askerNetworks([...this.live.values()], n.id, client).some((id) => this.openNets.has(id)) : undefined;
      const dns = await DnsServer.start({ address: n.gateway, clients: n.subnet, lookup, upstreams: this.upstreams, forwards });
      this.dns.set(n.id, dns);
    }
    if (!n.internal) this.openNets.add(n.id);
  }

  private async bringDown(n: Network): Promise<void> {
    this.openNets.delete(n.id);
    this.dns.get(n.id)?.close();
    this.dns.delete(n.id);
    await link.deleteLink(n.bridge);
  }

  // ---- instances ----

  /** At create: addresses on each network and the host ports, each in a store transaction; undone by `r` on failure. */
  async allocate(inst: { id: string; name: string }, req: NetRequest, r: Reverter): Promise<NetPlan> {
    const refs = req.networks?.length ? req.networks : undefined;
    const special = refs?.find((x) => x === 'none' || x === 'host') as 'none' | 'host' | undefined;
    if (special) {
      if (refs!.length > 1) throw invalid(`--network ${special} cannot be combined with other networks`);
      if (req.ports.length) throw invalid(`published ports need a bridge network, not --network ${special}`);
      if (req.aliases.length || req.ip) throw invalid(`--network-alias and --ip need a bridge network, not --network ${special}`);
      return { networkMode: special, networks: [], ports: [] };
    }
    if (this.unavailable) throw this.unavailable;
    const all = await this.networks();
    const nets = refs ? refs.map((ref) => this.must(all, ref)) : [all.find((n) => n.isDefault && !n.removing) ?? this.must(all, DEFAULT_NETWORK)];
    checkRequest(nets, req.aliases, req.ports);
    const networks: NetworkAttachment[] = [];
    for (const [i, n] of nets.entries()) networks.push(await this.attachAddress(inst.id, n, `eth${i}`, req.aliases, i === 0 ? req.ip : undefined, r));
    const ports = req.ports.length ? await this.reservePorts(inst, req.ports, r) : [];
    return { networkMode: 'bridge', networks, ports };
  }

  /** Host ports, reserved in the store and checked free of other programs; a picked port that is busy is picked again. */
  private async reservePorts(inst: { id: string; name: string }, wanted: PortMapping[], r: Reverter): Promise<PortMapping[]> {
    const unreserveMine = () => this.o.store.update<PortsDoc>('meta', PORTS_DOC_ID, (d) => unreserve(d, inst.id));
    for (let attempt = 0; ; attempt++) {
      let ports: PortMapping[] = [];
      await this.o.store.update<PortsDoc>('meta', PORTS_DOC_ID, (d) => {
        const res = reserve(d, inst, wanted);
        ports = res.mappings;
        return res.doc;
      });
      let busy = -1;
      try {
        for (const [i, p] of ports.entries()) if (busy < 0 && !(await hostPortFree(p))) busy = i;
      } catch (e) {
        await unreserveMine();
        throw e;
      }
      if (busy < 0) {
        r.add(unreserveMine);
        return ports;
      }
      await unreserveMine();
      const p = ports[busy];
      if (wanted[busy].hostPort !== 0 || attempt >= 5) throw conflict(`port ${p.hostIp || '0.0.0.0'}:${p.hostPort}/${p.protocol} is already in use on the host by another program`);
    }
  }

  private must(all: Network[], ref: string): Network {
    const n = findNetwork(all.filter((x) => !x.removing), ref);
    if (!n) throw notFound(`network "${ref}"`);
    return n;
  }

  private async attachAddress(id: string, n: Network, ifName: string, aliases: string[], ip: string | undefined, r: Reverter): Promise<NetworkAttachment> {
    let got = '';
    await this.o.store.update<Network>('network', n.id, (cur) => {
      if (cur.removing) throw notFound(`network "${cur.name}"`);
      const a = allocate(cur, id, ip);
      got = a.ip;
      return a.net;
    });
    r.add(() => this.releaseAddress(n.id, id));
    return { networkId: n.id, network: n.name, ifName, ipAddress: got, prefixLen: parseCidr(n.subnet).prefix, gateway: n.gateway, macAddress: macForIp(parseIp(got)), aliases: [...aliases] };
  }

  private async releaseAddress(networkId: string, instanceId: string): Promise<void> {
    await this.o.store.update<Network>('network', networkId, (cur) => release(cur, instanceId)).catch((e) => {
      if (!isHullError(e, 'not_found')) throw e;
    });
  }

  /** At rm (after down): addresses and ports go back, the /etc files go. Idempotent. */
  async release(inst: Instance): Promise<void> {
    // The veths normally die with the namespace; if something holds it open, take them off the bridge.
    const ifs = this.hostIfs(inst);
    setTimeout(() => void link.removeLeftovers(ifs, 0).catch(() => undefined), 1000).unref();
    for (const n of await this.networks()) if (Object.values(n.ipam.allocations).includes(inst.id)) await this.releaseAddress(n.id, inst.id);
    await this.o.store.update<PortsDoc>('meta', PORTS_DOC_ID, (d) => unreserve(d, inst.id));
    await removeContainerFiles(this.o.root, inst.id);
  }

  private nsName(id: string): string {
    return `${this.o.netnsPrefix}${shortId(id)}`;
  }

  /** Where a --userns container's user namespace is kept: under the root, which crun's namespace on a hybrid host sees. */
  private usernsFile(ns: string): string {
    return join(this.o.root, 'net', 'userns', ns);
  }

  /**
   * Before the process starts: the instance's /etc files, and on a bridge
   * network its namespace with one veth per network. Idempotent (attach sets
   * up before start); leftovers of a half-made earlier attempt are removed first.
   */
  async up(inst: Instance): Promise<NetworkContext> {
    const c = inst.config;
    const mode = c.networkMode ?? 'none';
    const vm = netKind(inst) === 'vm';
    const mounts = vm ? [] : await writeContainerFiles(this.o.root, { id: inst.id, name: inst.name, hostname: c.hostname, mode, networks: c.networks ?? [] });
    if (mode === 'host') return { hostNetwork: true, mounts };
    if (mode === 'none') return { mounts };
    const ns = this.nsName(inst.id);
    const eps = toEndpoints(netKind(inst), inst.id, c.networks ?? [], await this.networks());
    const map = vm ? undefined : idMapOf(c);
    const ctx: NetworkContext = vm ? { mounts, taps: this.taps(eps) } : { netnsPath: link.netnsPath(ns), mounts, ...(map ? { usernsPath: this.usernsFile(ns) } : {}) };
    if (this.live.has(inst.id) && (vm || existsSync(link.netnsPath(ns)))) return ctx;
    if (this.unavailable) throw this.unavailable;
    this.plugging.add(inst.id);
    const r = new Reverter();
    r.add(() => this.plugging.delete(inst.id));
    try {
      await this.unplug(inst);
      r.add(() => this.unplug(inst));
      if (vm) await link.plugTaps(eps, await this.o.tapOwner?.(inst));
      else if (map) {
        await mkdir(dirname(this.usernsFile(ns)), { recursive: true, mode: 0o700 });
        await link.addUsernsNetns(ns, this.usernsFile(ns), map);
        await link.plug(ns, eps, false, true);
      } else await link.plug(ns, eps, true);
      if (c.userns && !vm) await link.containerSysctls(ns);
      this.setLive(inst);
      r.add(() => this.live.delete(inst.id));
      r.add(() => this.releasePorts(inst.id));
      await this.holdPorts(inst);
      if (c.ports?.length) {
        await this.rules.sync();
        await link.flushUdpConntrack(udpHostPorts(c.ports));
      }
      r.success();
      this.plugging.delete(inst.id);
      for (const a of c.networks ?? []) this.emit('connect', { id: a.networkId, name: a.network }, inst.id);
      return ctx;
    } finally {
      await r.revert();
    }
  }

  /** What a VM's driver needs to open its taps and configure the guest. */
  private taps(eps: link.Endpoint[]) {
    const nameserver = eps[0]?.gateway ?? eps.find((e) => e.gateway)?.gateway ?? '';
    return eps.map((e) => ({ name: e.hostIf, mac: e.mac, address: e.address, prefixLen: e.prefixLen, gateway: e.gateway, nameserver }));
  }

  /**
   * After the process exited (or on rm, or at recovery): unplug. Idempotent.
   * A container's namespace goes at once and the kernel takes its veths with
   * it shortly after; rm and the next start make sure they did.
   */
  async down(inst: Instance): Promise<void> {
    const was = this.live.get(inst.id);
    this.live.delete(inst.id);
    await this.releasePorts(inst.id);
    if ((inst.config.networkMode ?? 'none') === 'bridge') {
      if (netKind(inst) === 'vm') await link.unplug(this.hostIfs(inst));
      else if (existsSync(link.netnsPath(this.nsName(inst.id)))) await link.deleteNetns(this.nsName(inst.id));
      await link.deleteUsernsFile(this.usernsFile(this.nsName(inst.id)));
    }
    if (was?.ports.length) {
      await this.rules.sync();
      await link.flushUdpConntrack(udpHostPorts(was.ports));
    }
    for (const a of was?.networks ?? []) this.emit('disconnect', { id: a.networkId, name: a.network }, inst.id);
  }

  /** Bind the instance's published ports on the host (a program listening there now: conflict). */
  private async holdPorts(inst: Instance): Promise<void> {
    await this.releasePorts(inst.id);
    const held: Array<() => Promise<void>> = [];
    this.holds.set(inst.id, held);
    for (const p of inst.config.ports ?? []) held.push(await holdHostPort(p));
  }

  private async releasePorts(id: string): Promise<void> {
    const held = this.holds.get(id);
    this.holds.delete(id);
    await Promise.all((held ?? []).map((f) => f()));
  }

  private hostIfs(inst: Instance): string[] {
    return (inst.config.networks ?? []).map((a) => hostIfName(netKind(inst), inst.id, a.ifName));
  }

  /** Everything of an earlier plug-in, gone when this returns (before plugging in again). */
  private async unplug(inst: Instance): Promise<void> {
    const ns = this.nsName(inst.id);
    if (netKind(inst) !== 'vm' && existsSync(link.netnsPath(ns))) await link.deleteNetns(ns);
    await link.deleteUsernsFile(this.usernsFile(ns));
    await link.removeLeftovers(this.hostIfs(inst), 500);
  }

  private setLive(inst: Instance): void {
    this.live.set(inst.id, { id: inst.id, name: inst.name, networks: inst.config.networks ?? [], ports: inst.config.ports ?? [] });
  }

  /**
   * Join another network (`hull network connect`): an address now, and a
   * veth at once when the instance runs (a running VM: a tap, and `nics`
   * puts a card on it). `save` records the new list; all of it is undone if
   * any step fails.
   */
  async connect(inst: Instance, ref: string, o: { aliases?: string[]; ip?: string }, save: (n: NetworkAttachment[]) => Promise<Instance>, nics?: NicHotplug): Promise<Instance> {
    const c = inst.config;
    if ((c.networkMode ?? 'none') !== 'bridge') throw invalid(`container ${inst.name} uses --network ${c.networkMode ?? 'none'}: it cannot join networks`);
    const all = await this.networks();
    const net = this.must(all, ref);
    const current = c.networks ?? [];
    if (current.some((a) => a.networkId === net.id)) throw conflict(`container ${inst.name} is already on network ${net.name}`);
    if (current.length >= MAX_INTERFACES) throw invalid(`at most ${MAX_INTERFACES} networks per container`);
    checkRequest([net], o.aliases ?? [], []);
    const used = new Set(current.map((a) => a.ifName));
    const ifName = Array.from({ length: MAX_INTERFACES }, (_, i) => `eth${i}`).find((x) => !used.has(x))!;
    const r = new Reverter();
    try {
      const att = await this.attachAddress(inst.id, net, ifName, o.aliases ?? [], o.ip, r);
      const live = this.live.has(inst.id);
      if (live) {
        const hasRoute = current.some((a) => !all.find((n) => n.id === a.networkId)?.internal);
        const [ep] = toEndpoints(netKind(inst), inst.id, [att], all, hasRoute);
        if (netKind(inst) === 'vm') await link.plugTaps([ep], await this.o.tapOwner?.(inst));
        else await link.plug(this.nsName(inst.id), [ep], false);
        r.add(() => link.unplug([ep.hostIf]));
        if (nics) {
          const [tap] = this.taps([ep]);
          await nics.add(tap);
          r.add(() => nics.remove(tap));
        }
      }
      const saved = await save([...current, att]);
      r.success();
      await this.refresh(saved, live);
      this.emit('connect', net, inst.id);
      return saved;
    } finally {
      await r.revert();
    }
  }

  /** Leave a network: the veth goes at once when running, and the address goes back. */
  async disconnect(inst: Instance, ref: string, save: (n: NetworkAttachment[]) => Promise<Instance>, nics?: NicHotplug): Promise<Instance> {
    const net = this.must(await this.networks(), ref);
    const att = (inst.config.networks ?? []).find((a) => a.networkId === net.id);
    if (!att) throw new HullError('not_found', `container ${inst.name} is not on network ${net.name}`);
    const live = this.live.has(inst.id);
    const hostIf = hostIfName(netKind(inst), inst.id, att.ifName);
    if (live && nics) await nics.remove({ name: hostIf, mac: att.macAddress, address: att.ipAddress, prefixLen: att.prefixLen, nameserver: '' });
    if (live) await link.unplug([hostIf]);
    const saved = await save((inst.config.networks ?? []).filter((a) => a !== att));
    await this.releaseAddress(net.id, inst.id);
    await this.refresh(saved, live);
    this.emit('disconnect', net, inst.id);
    return saved;
  }

  /** After a rename: the instance's /etc files and its networks' name servers know the new name. */
  async renamed(inst: Instance): Promise<void> {
    await this.refresh(inst, this.live.has(inst.id));
  }

  private async refresh(inst: Instance, live: boolean): Promise<void> {
    const c = inst.config;
    await writeContainerFiles(this.o.root, { id: inst.id, name: inst.name, hostname: c.hostname, mode: c.networkMode ?? 'none', networks: c.networks ?? [] });
    if (!live) return;
    this.setLive(inst);
    if (c.ports?.length) await this.rules.sync();
  }

  // ---- rules ----

  private async ruleModel() {
    const nets = (await this.networks()).filter((n) => !n.removing);
    const ports = portRules([...this.live.values()], nets);
    const { vips, ingress } = serviceRules([...this.services.lbs.values()], new Set(nets.filter((n) => n.internal).map((n) => n.id)));
    return {
      table: this.o.table,
      networks: nets.map((n) => ({ bridge: n.bridge, subnet: n.subnet, gateway: n.gateway, internal: n.internal, dnsPort: this.dns.get(n.id)?.port })),
      ports,
      vips,
      ingress,
    };
  }
}

/** How an instance is wired: a VM, or a container in a VM of its own (--isolation vm), gets taps; a container a namespace with veths. */
const netKind = (inst: Instance): InstanceType => (inst.type === 'vm' || inst.config.isolation === 'vm' ? 'vm' : 'container');

/** The host ports a container publishes for UDP. */
const udpHostPorts = (ports: PortMapping[]): number[] => ports.filter((p) => p.protocol === 'udp' && p.hostPort > 0).map((p) => p.hostPort);

/** The first answer `f` gives for the items in order. */
function firstOf<T, R>(items: T[], f: (item: T) => R | undefined): R | undefined {
  for (const i of items) {
    const r = f(i);
    if (r !== undefined) return r;
  }
  return undefined;
}
