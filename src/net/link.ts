import { existsSync } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { run } from '../sys/run.js';

/**
 * The host side of networks through iproute2: bridges, named network
 * namespaces (`ip netns`, under /run/netns, which iproute2 keeps a shared
 * mount so a deletion reaches every mount namespace), and veth pairs. Each
 * step is an `ip -batch` so one instance costs two `ip` runs to plug in and
 * one to unplug. A VM's tap device joins the bridge the same way as the
 * host end of a veth. Every host-side interface is deaf to IPv6 before it
 * goes up (deafToIpv6).
 */
const NETNS_DIR = '/run/netns';
const IP_TIMEOUT = 10_000;

export const netnsPath = (name: string) => `${NETNS_DIR}/${name}`;

async function ipBatch(lines: string[], opts: { netns?: string; force?: boolean } = {}): Promise<void> {
  const argv = ['ip', ...(opts.netns ? ['-n', opts.netns] : []), ...(opts.force ? ['-force'] : []), '-batch', '-'];
  await run(argv, { input: `${lines.join('\n')}\n`, timeoutMs: IP_TIMEOUT, allowFailure: opts.force });
}

interface LinkInfo {
  ifname: string;
  master?: string;
  operstate?: string;
  linkinfo?: { info_kind?: string };
}

export async function listLinks(): Promise<LinkInfo[]> {
  const r = await run(['ip', '-j', '-d', 'link', 'show'], { timeoutMs: IP_TIMEOUT });
  return JSON.parse(r.stdout || '[]') as LinkInfo[];
}

export async function linkExists(name: string): Promise<boolean> {
  const r = await run(['ip', 'link', 'show', 'dev', name], { timeoutMs: IP_TIMEOUT, allowFailure: true });
  return r.code === 0;
}

/** The host's IPv4 routes as CIDRs with their device, to refuse subnets that would shadow them. */
export async function hostRoutes(): Promise<Array<{ dst: string; dev: string }>> {
  const r = await run(['ip', '-j', '-4', 'route', 'show'], { timeoutMs: IP_TIMEOUT });
  const routes = JSON.parse(r.stdout || '[]') as Array<{ dst: string; dev?: string }>;
  return routes.filter((x) => x.dst !== 'default').map((x) => ({ dst: x.dst.includes('/') ? x.dst : `${x.dst}/32`, dev: x.dev ?? '' }));
}

/**
 * A bridge with the gateway address, up; idempotent. route_localnet lets the
 * host's own 127.0.0.1 connections be DNAT'd onto the bridge (published ports).
 */
export async function ensureBridge(name: string, gatewayCidr: string, mac: string): Promise<void> {
  if (!(await linkExists(name))) await ipBatch([`link add ${name} address ${mac} type bridge`]);
  // Before it is up (and again for a bridge an older Hull made): the host takes nothing IPv6 from the network.
  await deafToIpv6([name]);
  await ipBatch([`addr replace ${gatewayCidr} dev ${name}`, `link set ${name} up`]);
  await writeFile(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1');
}

/**
 * Hull's networks are IPv4 only, and an instance with CAP_NET_RAW (a VM's
 * guest always) can send IPv6 router advertisements, redirects and
 * neighbour messages onto its bridge: with the kernel's defaults the host
 * would take an address, routes, even its default route from them
 * (CVE-2020-13401). So on every interface Hull makes on the host (bridge,
 * host end of a veth, tap), before it goes up, IPv6 is off: no address, no
 * packet taken in. accept_ra, autoconf and accept_redirects are off too
 * (docker's fix sets accept_ra=0 on its bridges), so the interface stays
 * deaf should someone turn IPv6 back on by hand. A kernel without IPv6 has
 * nothing to turn off.
 */
const IPV6_DEAF: Array<[string, string]> = [
  ['accept_ra', '0'],
  ['autoconf', '0'],
  ['accept_redirects', '0'],
  ['disable_ipv6', '1'],
];

export async function deafToIpv6(ifnames: string[]): Promise<void> {
  if (!existsSync('/proc/sys/net/ipv6/conf')) return;
  for (const name of ifnames) {
    for (const [key, value] of IPV6_DEAF) await writeFile(`/proc/sys/net/ipv6/conf/${name}/${key}`, value);
  }
}

/**
 * `ip link set NAME up` without another `ip` run: IFF_UP added to the
 * interface's flags through sysfs (the kernel's dev_change_flags, as ip
 * does). Used for host ends made down, made deaf, then brought up.
 */
async function setUp(names: string[]): Promise<void> {
  for (const name of names) {
    const file = `/sys/class/net/${name}/flags`;
    const flags = parseInt(await readFile(file, 'utf8'), 16);
    await writeFile(file, `0x${(flags | 1).toString(16)}`);
  }
}

export async function deleteLink(name: string): Promise<void> {
  await run(['ip', 'link', 'del', 'dev', name], { timeoutMs: IP_TIMEOUT, allowFailure: true });
}

export interface Endpoint {
  /** Host end of the veth, on the bridge. */
  hostIf: string;
  /** Inside the namespace: eth0, eth1, ... */
  ifName: string;
  bridge: string;
  address: string;
  prefixLen: number;
  mac: string;
  /** Set for the interface that carries the default route. */
  gateway?: string;
}

/**
 * Plug endpoints into a namespace, making the namespace first when `create`
 * (with its loopback up). On failure the caller's Reverter removes the lot.
 */
export async function plug(netns: string, endpoints: Endpoint[], create: boolean, loUp = create): Promise<void> {
  const host = create ? [`netns add ${netns}`] : [];
  for (const e of endpoints) {
    host.push(`link add ${e.hostIf} type veth peer name ${e.ifName} address ${e.mac} netns ${netns}`, `link set ${e.hostIf} master ${e.bridge}`);
  }
  await ipBatch(host);
  const hostIfs = endpoints.map((e) => e.hostIf);
  await deafToIpv6(hostIfs);
  const inside = loUp ? ['link set lo up'] : [];
  for (const e of endpoints) {
    inside.push(`addr add ${e.address}/${e.prefixLen} dev ${e.ifName}`, `link set ${e.ifName} up`);
    if (e.gateway) inside.push(`route add default via ${e.gateway} dev ${e.ifName}`);
  }
  await ipBatch(inside, { netns });
  await setUp(hostIfs);
}

/**
 * A network namespace owned by a new user namespace, for a --userns
 * container (docker's userns-remap does the same): its root holds the
 * namespace's privileges over its own network, and runc before 1.2.1 can
 * `exec` into it. runc joins the user namespace first, and from inside it a
 * network namespace owned by the host's is out of reach ("failed to setns
 * into net namespace: Operation not permitted"; runc#4390). A holder
 * process makes both namespaces in one unshare, gets the mapping from here,
 * and both are kept by bind mounts: the network one at /run/netns/NAME as
 * `ip netns` keeps it, the user one at `usernsFile` (given to the runtime to
 * join). The script is fixed; names and ids reach it as arguments.
 */
export async function addUsernsNetns(netns: string, usernsFile: string, map: { hostUid: number; hostGid: number; size: number }): Promise<void> {
  const script = [
    'set -e',
    'unshare --user --net -- sleep 60 & pid=$!',
    'trap "kill $pid 2>/dev/null" EXIT',
    'n=0; while [ "$(readlink /proc/$pid/ns/net)" = "$(readlink /proc/$$/ns/net)" ]; do n=$((n+1)); [ $n -lt 500 ]; sleep 0.01; done',
    'echo "0 $3 $5" > /proc/$pid/uid_map',
    'echo "0 $4 $5" > /proc/$pid/gid_map',
    ': > "$2"; mount --bind /proc/$pid/ns/user "$2"',
    'ip netns attach "$1" $pid',
  ].join('\n');
  const args = [netns, usernsFile, String(map.hostUid), String(map.hostGid), String(map.size)];
  await run(['sh', '-c', script, 'hull-userns-netns', ...args], { timeoutMs: IP_TIMEOUT });
}

/** Undo addUsernsNetns's user namespace file (the network one goes with deleteNetns). Missing is fine. */
export async function deleteUsernsFile(usernsFile: string): Promise<void> {
  if (!existsSync(usernsFile)) return;
  await run(['umount', usernsFile], { timeoutMs: IP_TIMEOUT, allowFailure: true });
  await rm(usernsFile, { force: true });
}

/**
 * Network sysctls set from the host (for containers in a user namespace,
 * which cannot set them in a namespace they do not own): any user may bind
 * low ports and ping, as in docker's containers.
 */
export async function containerSysctls(netns: string): Promise<void> {
  const argv = ['nsenter', `--net=${netnsPath(netns)}`, '--', 'sysctl', '-q', '-w', 'net.ipv4.ip_unprivileged_port_start=0', 'net.ipv4.ping_group_range=0 2147483647'];
  await run(argv, { timeoutMs: IP_TIMEOUT });
}

/** Tap devices on their bridges, for a VM: QEMU opens them by name, as `owner` (a tap takes no other user without CAP_NET_ADMIN). */
export async function plugTaps(endpoints: Endpoint[], owner?: number): Promise<void> {
  const user = owner === undefined ? '' : ` user ${owner}`;
  await ipBatch(endpoints.flatMap((e) => [`tuntap add dev ${e.hostIf} mode tap vnet_hdr${user}`, `link set ${e.hostIf} master ${e.bridge}`]));
  await deafToIpv6(endpoints.map((e) => e.hostIf));
  await setUp(endpoints.map((e) => e.hostIf));
}

/** Remove veths (both ends go with the host end) and, when given, the namespace. Missing ones are fine. */
export async function unplug(hostIfs: string[], netns?: string): Promise<void> {
  const lines = hostIfs.map((h) => `link del ${h}`);
  if (netns) lines.push(`netns del ${netns}`);
  if (lines.length) await ipBatch(lines, { force: true });
}

/**
 * Remove a namespace only. The kernel then destroys its veths (and their
 * host ends) by itself some 25 ms later, off the caller's path: deleting a
 * veth synchronously waits that long for RCU.
 */
export async function deleteNetns(netns: string): Promise<void> {
  await run(['ip', 'netns', 'del', netns], { timeoutMs: IP_TIMEOUT, allowFailure: true });
}

const present = (name: string) => existsSync(`/sys/class/net/${name}`);

/**
 * Make sure these host interfaces are gone: wait up to `graceMs` for the
 * kernel to finish a namespace's teardown, then delete what is left (a
 * namespace something else still holds open keeps its veths alive).
 */
export async function removeLeftovers(hostIfs: string[], graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (hostIfs.some(present) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const left = hostIfs.filter(present);
  if (left.length) await unplug(left);
}

export async function listNetns(prefix: string): Promise<string[]> {
  const names = await readdir(NETNS_DIR).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(prefix));
}

/** Containers' traffic leaves through the host: routing must be on (Hull turns it on, and says so in its log). */
export async function enableForwarding(): Promise<boolean> {
  const file = '/proc/sys/net/ipv4/ip_forward';
  if ((await readFile(file, 'utf8')).trim() === '1') return false;
  await writeFile(file, '1');
  return true;
}

/**
 * Forget the kernel's UDP connection-tracking entries for these host ports
 * (conntrack, from Debian's package). A datagram that came before a
 * published port's DNAT rule (or while it pointed at a container now gone)
 * left an entry that keeps steering the same client's later datagrams the
 * old way for as long as they keep coming; docker flushes them too. TCP
 * needs nothing: a new connection is a new entry. Without the tool, nothing.
 */
export async function flushUdpConntrack(hostPorts: number[]): Promise<void> {
  for (const port of new Set(hostPorts)) {
    const r = await run(['conntrack', '-D', '-p', 'udp', '--orig-port-dst', String(port)], { timeoutMs: 10_000, allowFailure: true }).catch(() => undefined);
    // exit 1 with "0 flow entries have been deleted" is the usual case: nothing to forget.
    if (!r) return; // no conntrack binary: give up quietly
  }
}
