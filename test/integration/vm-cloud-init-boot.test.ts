import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TapDevice } from '../../src/runtime/driver.js';
import { sha512Crypt } from '../../src/runtime/qemu/crypt.js';
import { QemuDriver } from '../../src/runtime/qemu/driver.js';
import { loadGuest, type GuestArtifacts } from '../../src/runtime/qemu/guest.js';
import { VmImages } from '../../src/runtime/qemu/images.js';
import { vmInstance, waitFor } from '../../src/runtime/qemu/testing.js';
import { REPO } from '../helpers/hull.js';

/**
 * OPT-IN (HULL_TEST_CLOUDINIT=1; minutes under TCG): a real Debian cloud image
 * (scripts/build-cloudinit-image.sh: systemd, dbus, cloud-init 22.4, ifupdown, booted
 * by the BIOS from its own disk) uploaded as untrusted, booted by the QEMU
 * driver with Hull's NoCloud seed, and cloud-init inside it applies hostname,
 * SSH key, password hash, a static address and route matched by MAC, and runs
 * the user script once per instance (a second boot does not run it again).
 * The image is built once into build/cloudinit/ (about 2 minutes).
 */
process.env.HULL_VM_ACCEL ??= 'tcg';
const BUILD = join(REPO, 'scripts', 'build-cloudinit-image.sh');
// Rebuilt when the script changes.
const IMAGE = join(REPO, 'build', 'cloudinit', `debian-ci-${createHash('sha256').update(readFileSync(BUILD)).digest('hex').slice(0, 12)}.qcow2`);
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8DH4s2ayDzn5zY0R1vJYpbRk6xaodMGwWK6N3Bfx1 alice@laptop';
const BOOT_MS = 600_000;
const enabled = process.env.HULL_TEST_CLOUDINIT === '1' && existsSync(join(REPO, 'build', 'guest', 'guest.json'));

// Runs as root in cloud-final; writes to the console, which the driver logs.
const SCRIPT = `exec > /dev/console 2>&1
echo "HULLCI hostname=$(hostname)"
echo "HULLCI iid=$(cat /var/lib/cloud/data/instance-id)"
echo "HULLCI key=$(cat /home/debian/.ssh/authorized_keys)"
echo "HULLCI shadow=$(getent shadow debian | cut -d: -f2)"
echo "HULLCI addr=$(ip -4 -o addr show dev eth0 | awk '{print $4}')"
echo "HULLCI route=$(ip -4 route show default)"
echo "HULLCI mac=$(cat /sys/class/net/eth0/address)"
echo "HULLCI done"
`;

describe.skipIf(!enabled)('a cloud-init guest reads Hull\'s seed (opt-in, real boot)', () => {
  let root: string;
  let guest: GuestArtifacts;
  const tapName = `hci${process.pid % 10000}`;
  beforeAll(async () => {
    if (!existsSync(IMAGE)) execFileSync('bash', [BUILD, IMAGE], { stdio: 'inherit' });
    root = await mkdtemp('/tmp/hull-ci-');
    guest = await loadGuest();
  }, 600_000);
  afterAll(async () => {
    for (const p of await readdir('/proc')) {
      if (/^\d+$/.test(p) && (await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')).includes(root)) process.kill(Number(p), 'SIGKILL');
    }
    execFileSync('ip', ['link', 'del', tapName], { stdio: 'ignore' });
    await rm(root, { recursive: true, force: true });
  });

  it('hostname, key, password, network and a once-per-instance script, applied by cloud-init', async () => {
    const t0 = Date.now();
    const images = new VmImages(root);
    await images.importStream(createReadStream(IMAGE), { name: 'debian-ci' });
    const imported = Date.now();
    const d = new QemuDriver({ root, images, guest: async () => guest });
    const hash = sha512Crypt('s3cret-pw', 'hullsalt');
    const inst = vmInstance('ci', { image: 'debian-ci', hostname: 'ci-guest', memoryBytes: 512 << 20, vm: { sshKeys: [KEY], passwordHash: hash, userScript: SCRIPT } });
    const tap: TapDevice = { name: tapName, mac: '52:54:00:c1:00:05', address: '10.77.0.5', prefixLen: 24, gateway: '10.77.0.1', nameserver: '10.77.0.1' };
    const ctx = { layerDirs: [], network: { mounts: [], taps: [tap] } };
    await d.create(inst);
    // The tap belongs to the uid the VM's QEMU runs as, as the network manager makes it (only that uid may open it).
    execFileSync('ip', ['tuntap', 'add', 'dev', tapName, 'mode', 'tap', 'user', String(await d.tapOwner(inst))]);
    execFileSync('ip', ['link', 'set', tapName, 'up']);
    await d.start(inst, ctx);
    const log = () => readFile(d.logPath(inst), 'utf8').catch(() => '');
    const finished = async () => ((await log()).match(/Cloud-init v\. \S+ finished at .* Datasource DataSourceNoCloud \[seed=\/dev\/vdb\]/g) ?? []).length;
    // cloud-final ends with its "finished" line (the datasource named): power off only then, or it is cut short.
    await waitFor(async () => (await finished()) === 1, BOOT_MS, 'cloud-final to finish', 1000);
    const firstBoot = Date.now();
    const seen = Object.fromEntries([...(await log()).matchAll(/^HULLCI (\w+)=(.*?)\r?$/gm)].map((m) => [m[1], m[2]]));
    expect(seen).toEqual({
      hostname: 'ci-guest',
      iid: inst.id,
      key: KEY,
      shadow: hash,
      addr: '10.77.0.5/24',
      route: expect.stringMatching(/^default via 10\.77\.0\.1 dev eth0/),
      mac: '52:54:00:c1:00:05',
    });
    // ACPI power button → systemd powers off; a second boot is the same instance: the script does not run again.
    await d.stop(inst, 120);
    expect((await d.exitStatus(inst))?.exitCode).toBe(0);
    await d.start(inst, ctx);
    await waitFor(async () => (await finished()) === 2, BOOT_MS, 'cloud-final of the second boot', 1000);
    expect(((await log()).match(/^HULLCI done/gm) ?? []).length).toBe(1);
    const secondBoot = Date.now();
    await d.remove(inst);
    console.log(`cloud-init boot test: upload+import ${imported - t0} ms, first boot to user script ${firstBoot - imported} ms, stop + second boot ${secondBoot - firstBoot} ms`);
  }, 1_500_000);
});
