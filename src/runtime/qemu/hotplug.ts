import { randomBytes } from 'node:crypto';
import { HullError } from '../../core/errors.js';
import type { TapDevice } from '../driver.js';
import type { AgentClient } from './agent.js';
import type { QmpClient } from './qmp/client.js';

/**
 * Network cards added to and removed from a running VM (`hull network
 * connect/disconnect`), through QMP, with the guest told through its agent.
 *
 *   hotplugPorts()      at launch: empty PCIe root ports (q35 cannot hot-add on its root bus)
 *   addNic(qmp, tap)    netdev_add on the tap Hull made + device_add virtio-net-pci on a free port
 *   configureNic(...)   in the guest: find the card by MAC, address, up, default route
 *   removeNic(...)      hot-added card: device_del (ACPI eject), then netdev_del;
 *                       a card from launch (on the root bus, not removable): link down, netdev_del
 *
 * Every card is found by its MAC (`query-rx-filter`), so this works the same
 * after a daemon restart and for cards made at launch.
 */
export const HOTPLUG_PORTS = 4;
const PORT_ID = /^hp\d+$/;
const HOT_ID = /^hn[0-9a-f]{6}-dev$/;

/** The spare root ports, last on the command line so the launch devices keep their PCI addresses. */
export function hotplugPorts(count = HOTPLUG_PORTS): string[] {
  // io-reserve=0: virtio needs no I/O ports, and each port reserving 4 KiB of them would run the 64 KiB out.
  return Array.from({ length: count }, (_, i) => ['-device', `pcie-root-port,id=hp${i},chassis=${i + 1},slot=0,io-reserve=0`]).flat();
}

interface PciDevice {
  qdev_id: string;
  pci_bridge?: { devices?: PciDevice[] };
}

/** An empty spare root port (shared by hot-added cards and disks). */
export async function freePort(qmp: QmpClient, what = 'network card', atLaunch = 'its networks then get cards at launch'): Promise<string> {
  const buses = await qmp.execute<Array<{ devices: PciDevice[] }>>('query-pci');
  const port = buses.flatMap((b) => b.devices).find((d) => PORT_ID.test(d.qdev_id) && !d.pci_bridge?.devices?.length);
  if (!port) throw new HullError('resource', `no free PCIe slot for another ${what} (${HOTPLUG_PORTS} per start): stop and start the VM, ${atLaunch}`);
  return port.qdev_id;
}

/** The card's device id by MAC, or undefined when QEMU has none (the tap was made but never opened). */
export async function nicByMac(qmp: QmpClient, mac: string): Promise<string | undefined> {
  const nics = await qmp.execute<Array<{ name: string; 'main-mac': string }>>('query-rx-filter');
  return nics.find((n) => n['main-mac'].toLowerCase() === mac.toLowerCase())?.name;
}

/** Open the tap (already on its bridge) and plug a virtio-net card on it into a free port. Undone on failure. */
export async function addNic(qmp: QmpClient, tap: TapDevice): Promise<string> {
  const bus = await freePort(qmp);
  const id = `hn${randomBytes(3).toString('hex')}`;
  await qmp.execute('netdev_add', { type: 'tap', id, ifname: tap.name, script: 'no', downscript: 'no' });
  try {
    await qmp.execute('device_add', { driver: 'virtio-net-pci', netdev: id, mac: tap.mac, id: `${id}-dev`, bus });
  } catch (e) {
    await qmp.execute('netdev_del', { id }).catch(() => undefined);
    throw e;
  }
  return `${id}-dev`;
}

/**
 * The guest script: the card with this MAC (a hot-added one sits behind a
 * root port: two PCI addresses in its sysfs path, which tells it from a
 * disconnected launch card that had the same address), waited for while the
 * kernel probes it.
 */
const FIND = `find_if() { for i in /sys/class/net/*; do [ "$(cat $i/address)" = "$1" ] || continue; case "$(readlink -f $i/device)" in *$2) echo "\${i##*/}"; return;; esac; done; }`;
const CONFIGURE = `${FIND}
n=0; while :; do dev=$(find_if "$1" '/0000:*:*.*/0000:*:*.*/virtio*'); [ -n "$dev" ] && break; n=$((n+1)); [ $n -gt 100 ] && { echo "no card with MAC $1" >&2; exit 1; }; sleep 0.1; done
ip addr flush dev "$dev"; ip addr add "$2" dev "$dev" && ip link set "$dev" up || exit 1
[ -z "$3" ] || ip route replace default via "$3" dev "$dev"`;
const UNCONFIGURE = `${FIND}
for dev in $(find_if "$1" '*'); do ip addr flush dev "$dev"; ip link set "$dev" down; done; true`;

export async function configureNic(agent: AgentClient, tap: TapDevice): Promise<void> {
  const r = await agent.exec(['sh', '-c', CONFIGURE, 'sh', tap.mac, `${tap.address}/${tap.prefixLen}`, tap.gateway ?? ''], { timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new HullError('unavailable', `the guest could not configure its new network card ${tap.mac}: ${r.stderr.toString().trim() || `exit ${r.exitCode}`}`);
}

/** Take the card off the VM; `agent` (best effort) first takes the address off in the guest. */
export async function removeNic(qmp: QmpClient, tap: TapDevice, agent?: () => Promise<AgentClient>): Promise<void> {
  const dev = await nicByMac(qmp, tap.mac);
  if (!dev) return;
  if (agent) await agent().then((a) => a.exec(['sh', '-c', UNCONFIGURE, 'sh', tap.mac], { timeoutMs: 10_000 })).catch(() => undefined);
  const netdev = await qmp.execute<string>('qom-get', { path: `/machine/peripheral/${dev}`, property: 'netdev' }).catch(() => undefined);
  if (HOT_ID.test(dev)) {
    const deleted = qmp.waitEvent('DEVICE_DELETED', (ev) => ev.data?.device === dev, 30_000);
    deleted.catch(() => undefined);
    await qmp.execute('device_del', { id: dev });
    await deleted;
  } else {
    // On q35's root bus: the card stays until the VM stops, cut off from the host.
    await qmp.execute('set_link', { name: dev, up: false });
  }
  if (netdev) await qmp.execute('netdev_del', { id: netdev }).catch(() => undefined);
}
