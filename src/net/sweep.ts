import { HOST_IF_RE } from './attachments.js';
import * as link from './link.js';

/**
 * After a daemon was killed: this root's namespaces (by prefix) and host
 * interfaces on this root's bridges whose instance is not using them now.
 * `inUse` is asked at each step, since a restart policy may start an
 * instance while the sweep runs.
 */
export async function sweepHost(o: { netnsPrefix: string; bridges: Set<string>; inUse: (id12: string) => boolean; log: (msg: string) => void }): Promise<void> {
  for (const ns of await link.listNetns(o.netnsPrefix)) {
    const id12 = ns.slice(o.netnsPrefix.length);
    if (!/^[0-9a-f]{12}$/.test(id12) || o.inUse(id12)) continue;
    await link.deleteNetns(ns);
    o.log(`removed orphaned network namespace ${ns}`);
  }
  for (const l of await link.listLinks()) {
    const m = HOST_IF_RE.exec(l.ifname);
    if (!m || !l.master || !o.bridges.has(l.master) || o.inUse(m[1])) continue;
    await link.deleteLink(l.ifname);
    o.log(`removed orphaned interface ${l.ifname}`);
  }
}
