import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shortId } from '../../src/core/ids.js';
import { vmCgroupMemory } from '../../src/runtime/qemu/cgroup.js';
import { run } from '../../src/sys/run.js';
import { REPO, TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * A VM on a Hull network, next to a container: each reaches the other by
 * name through the network's DNS. QEMU under TCG; needs the built guest.
 */
process.env.HULL_VM_ACCEL = 'tcg';
const guestBuilt = existsSync(join(REPO, 'build', 'guest', 'guest.json'));
const SUBNET = '10.231.57.0/24';
const GATEWAY = '10.231.57.1';
const links = async () => (JSON.parse((await run(['ip', '-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>).map((l) => l.ifname);

describe.skipIf(!guestBuilt)('VM networking (TCG)', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await TestDaemon.start();
  }, 60_000);
  afterAll(async () => {
    await d?.destroy();
  }, 60_000);

  it('a VM and a container on one network reach each other by name; QEMU in a cgroup with the limits; rm leaves no tap, no cgroup', async () => {
    await d.ok(['network', 'create', 'vmnet', '--subnet', SUBNET]);
    const id = (await d.ok(['vm', 'create', '--name', 'vm1', '--network', 'vmnet', '--network-alias', 'vmalias', '--memory', '256m'])).trim();
    await d.ok(['run', '-d', '--name', 'c1', '--network', 'vmnet', 'busybox', 'sh', '-c', 'echo from-c1 > /tmp/index.html; exec httpd -f -p 8080 -h /tmp']);
    await d.ok(['vm', 'start', 'vm1']);
    const tap = `ht${shortId(id)}0`;
    expect(await links()).toContain(tap);
    // The agent answers once the guest's rc (which configures eth0) has run.
    await waitFor(async () => (await d.hull(['vm', 'exec', 'vm1', '--', 'true'])).code === 0, 90_000, 500);

    // QEMU runs in a cgroup of its own with the VM's memory (+ overhead) and CPU limits.
    const vmInfo = JSON.parse(await d.ok(['vm', 'inspect', 'vm1']))[0].vm;
    const cg = vmInfo.cgroup as { mode: string; dirs: string[]; memoryLimit: number; cpuQuotaUs: number };
    expect(cg.memoryLimit).toBe(vmCgroupMemory(256 * 1024 * 1024));
    const limitFile = cg.mode === 'v2' ? 'memory.max' : 'memory.limit_in_bytes';
    expect(Number(await readFile(join(cg.dirs[0], limitFile), 'utf8'))).toBe(cg.memoryLimit);
    expect((await readFile(join(cg.dirs[0], 'cgroup.procs'), 'utf8')).split('\n')).toContain(String(vmInfo.qemuPid));
    const cpuFile = cg.mode === 'v2' ? join(cg.dirs[0], 'cpu.max') : join(cg.dirs[1], 'cpu.cfs_quota_us');
    expect(await readFile(cpuFile, 'utf8')).toMatch(/^100000\b/);

    const net = JSON.parse(await d.ok(['inspect', 'vm1']))[0].config.networks[0];
    expect(net).toMatchObject({ network: 'vmnet', gateway: GATEWAY, aliases: ['vmalias'] });
    expect(net.ipAddress).toMatch(/^10\.231\.57\.\d+$/);
    expect(await d.ok(['vm', 'exec', 'vm1', '--', 'ip', '-4', 'addr', 'show', 'eth0'])).toContain(`${net.ipAddress}/24`);
    expect(await d.ok(['vm', 'exec', 'vm1', '--', 'cat', '/etc/resolv.conf'])).toContain(`nameserver ${GATEWAY}`);

    // VM → container by name (the network's DNS on the gateway).
    expect(await d.ok(['vm', 'exec', 'vm1', '--', 'wget', '-qO-', 'http://c1:8080/'], { timeoutMs: 30_000 })).toBe('from-c1\n');
    // Container → VM by name and alias.
    await d.ok(['vm', 'exec', 'vm1', '--', 'sh', '-c', 'mkdir -p /www && echo from-vm1 > /www/index.html && httpd -p 80 -h /www >/dev/null 2>&1']);
    const client = ['run', '--rm', '--network', 'vmnet', 'busybox'];
    expect(await d.ok([...client, 'wget', '-qO-', 'http://vm1/'], { timeoutMs: 30_000 })).toBe('from-vm1\n');
    expect(await d.ok([...client, 'wget', '-qO-', 'http://vmalias/'], { timeoutMs: 30_000 })).toBe('from-vm1\n');
    // busybox's ping opens a raw socket: NET_RAW is not in the default set (docs/security.md).
    expect(await d.ok(['run', '--rm', '--cap-add', 'NET_RAW', '--network', 'vmnet', 'busybox', 'ping', '-c1', '-W5', 'vm1'], { timeoutMs: 30_000 })).toMatch(/1 packets received/);

    // A daemon killed and started again re-adopts the VM's tap and its name.
    await d.crash();
    await d.spawn();
    expect(await links()).toContain(tap);
    expect(await d.ok([...client, 'wget', '-qO-', 'http://vm1/'], { timeoutMs: 30_000 })).toBe('from-vm1\n');

    expect((await d.hull(['network', 'rm', 'vmnet'])).stderr).toMatch(/in use by .*vm1/);
    await d.ok(['vm', 'rm', '-f', 'vm1'], { timeoutMs: 30_000 });
    await d.ok(['rm', '-f', 'c1']);
    await waitFor(async () => !(await links()).includes(tap), 5_000);
    for (const dir of cg.dirs) expect(existsSync(dir)).toBe(false);
    await d.ok(['network', 'rm', 'vmnet']);
  }, 150_000);

  it('network connect/disconnect on a running VM takes effect at once (hot-plugged card, configured by the agent); nothing left', async () => {
    await d.ok(['network', 'create', 'hpa', '--subnet', '10.231.58.0/24']);
    await d.ok(['network', 'create', 'hpb', '--subnet', '10.231.59.0/24']);
    const id = (await d.ok(['vm', 'create', '--name', 'vmh', '--network', 'hpa', '--memory', '256m'])).trim();
    await d.ok(['run', '-d', '--name', 'cb', '--cap-add', 'NET_RAW', '--network', 'hpb', 'busybox', 'sleep', '600']);
    await d.ok(['vm', 'start', 'vmh']);
    await waitFor(async () => (await d.hull(['vm', 'exec', 'vmh', '--', 'true'])).code === 0, 90_000, 500);
    const qemuPid = JSON.parse(await d.ok(['vm', 'inspect', 'vmh']))[0].vm.qemuPid as number;
    const tunFds = async () => (await run(['sh', '-c', `ls -l /proc/${qemuPid}/fd | grep -c /dev/net/tun || true`])).stdout.trim();
    const guestIfs = async () => (await d.ok(['vm', 'exec', 'vmh', '--', 'ls', '/sys/class/net'])).split(/\s+/).filter(Boolean).sort();
    const ping = (target: string) => d.hull(['exec', 'cb', 'ping', '-c1', '-W3', target], { timeoutMs: 30_000 });
    expect(await tunFds()).toBe('1');
    expect(await guestIfs()).toEqual(['eth0', 'lo']);
    expect((await ping('vmh')).code).not.toBe(0); // not on hpb yet

    await d.ok(['network', 'connect', 'hpb', 'vmh'], { timeoutMs: 150_000 });
    const att = (JSON.parse(await d.ok(['inspect', 'vmh']))[0].config.networks as Array<{ network: string; ipAddress: string; ifName: string }>).find((n) => n.network === 'hpb')!;
    expect(att.ipAddress).toMatch(/^10\.231\.59\.\d+$/);
    const tap = `ht${shortId(id)}${att.ifName.slice(3)}`;
    expect(await links()).toContain(tap);
    expect(await tunFds()).toBe('2');
    expect(await d.ok(['vm', 'exec', 'vmh', '--', 'ip', '-4', 'addr'])).toContain(`${att.ipAddress}/24`);
    // At once: the container on hpb reaches the VM by name, no restart.
    expect((await ping('vmh')).stdout).toMatch(/1 packets received/);

    await d.ok(['network', 'disconnect', 'hpb', 'vmh'], { timeoutMs: 60_000 });
    expect((await ping('vmh')).code).not.toBe(0); // the name is gone
    expect((await ping(att.ipAddress)).code).not.toBe(0); // and the card
    expect(await links()).not.toContain(tap);
    expect(await tunFds()).toBe('1'); // QEMU let go of the tap (netdev_del)
    expect(await guestIfs()).toEqual(['eth0', 'lo']); // the card left the guest (device_del)

    // Again (the freed slot is reused); a daemon killed and started again finds the cards by MAC.
    await d.ok(['network', 'connect', 'hpb', 'vmh'], { timeoutMs: 150_000 });
    expect((await ping('vmh')).stdout).toMatch(/1 packets received/);
    await d.crash();
    await d.spawn();
    // Off the network it booted with: that card cannot leave q35's root bus, it is cut off (QEMU closes its tap).
    const first = (JSON.parse(await d.ok(['inspect', 'vmh']))[0].config.networks as Array<{ network: string; ipAddress: string }>).find((n) => n.network === 'hpa')!;
    await d.ok(['network', 'disconnect', 'hpa', 'vmh'], { timeoutMs: 60_000 });
    expect(await tunFds()).toBe('1');
    expect(await d.ok(['vm', 'exec', 'vmh', '--', 'ip', '-4', 'addr'])).not.toContain(first.ipAddress);
    expect((await ping('vmh')).stdout).toMatch(/1 packets received/); // still on hpb
    // And off the hot-added one: no tap left open, only the cut-off launch card in the guest.
    await d.ok(['network', 'disconnect', 'hpb', 'vmh'], { timeoutMs: 60_000 });
    expect(await tunFds()).toBe('0');
    expect(await guestIfs()).toEqual(['eth0', 'lo']);
    expect((await ping('vmh')).code).not.toBe(0);

    // Four spare slots per start: a fifth card is refused, and the refused connect leaves nothing (tap, address, QEMU netdev).
    const extra = ['hpc', 'hpd', 'hpe', 'hpf'];
    for (const [i, n] of extra.entries()) await d.ok(['network', 'create', n, '--subnet', `10.231.${60 + i}.0/24`]);
    for (const n of ['hpb', 'hpc', 'hpd', 'hpe']) await d.ok(['network', 'connect', n, 'vmh'], { timeoutMs: 150_000 });
    const tapsBefore = (await links()).filter((l) => l.startsWith(`ht${shortId(id)}`)).sort();
    const refused = await d.hull(['network', 'connect', 'hpf', 'vmh'], { timeoutMs: 60_000 });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/no free PCIe slot/);
    expect((await links()).filter((l) => l.startsWith(`ht${shortId(id)}`)).sort()).toEqual(tapsBefore);
    expect(JSON.parse(await d.ok(['network', 'inspect', 'hpf']))[0].containers).toEqual([]);
    expect(await tunFds()).toBe('4');
    expect((await ping('vmh')).stdout).toMatch(/1 packets received/);

    await d.ok(['vm', 'rm', '-f', 'vmh'], { timeoutMs: 30_000 });
    await d.ok(['rm', '-f', 'cb']);
    await waitFor(async () => !(await links()).some((l) => l.startsWith(`ht${shortId(id)}`)), 5_000);
    for (const n of ['hpa', 'hpb', ...extra]) await d.ok(['network', 'rm', n]);
  }, 400_000);

  it('--network none: no card; --network host is refused', async () => {
    await d.ok(['vm', 'create', '--name', 'vm2', '--network', 'none']);
    expect(JSON.parse(await d.ok(['inspect', 'vm2']))[0].config.networkMode).toBe('none');
    await d.ok(['vm', 'rm', 'vm2']);
    expect((await d.hull(['vm', 'create', '--name', 'vm3', '--network', 'host'])).stderr).toMatch(/cannot use --network host/);
  });
});
