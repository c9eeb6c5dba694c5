import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmCreateSchema, vmConfig } from '../../engine/vm-options.js';
import { checkSshKey, checkUserData, writeSeed, type SeedInput } from './cloud-init.js';
import { sha512Crypt } from './crypt.js';

/**
 * The NoCloud seed as cloud-init itself reads it: Debian's cloud-init
 * (installed on the host by `HULL_SETUP_TEST=1 npm run setup`, inert there)
 * is imported by Debian's own python (/usr/bin/python3; a `python3` on PATH
 * may be another one), its NoCloud datasource reads the files taken from the
 * ISO, its schema checks the cloud-config, its v2 parser reads the network.
 */
const PY = '/usr/bin/python3';
const haveTools = existsSync('/usr/bin/genisoimage') && existsSync('/usr/bin/isoinfo') && existsSync('/usr/lib/python3/dist-packages/cloudinit/sources/DataSourceNoCloud.py');

// Reads seed/nocloud/ the way NoCloud reads a mounted cidata volume (pathprefix2dict), then prints what cloud-init made of it.
const READ_SEED = String.raw`
import json, sys
from cloudinit import helpers, distros, util
from cloudinit.sources import DataSourceNoCloud as NC
from cloudinit.net import network_state
from cloudinit.config.schema import get_schema, validate_cloudconfig_schema
root = sys.argv[1]
paths = helpers.Paths({'cloud_dir': root, 'run_dir': root})
ds = NC.DataSourceNoCloud({'datasource': {'NoCloud': {}}}, distros.fetch('debian')('debian', {}, paths), paths)
out = {'found': ds.get_data(), 'instanceId': ds.get_instance_id(), 'hostname': ds.get_hostname().hostname, 'parts': [], 'config': {}}
for p in ds.get_userdata().walk():
    if p.is_multipart(): continue
    body = p.get_payload(decode=True).decode()
    out['parts'].append({'type': p.get_content_type(), 'body': body})
    if p.get_content_type() == 'text/cloud-config':
        cfg = util.load_yaml(body)
        validate_cloudconfig_schema(cfg, get_schema(), strict=True)  # raises on an unknown or malformed key
        out['config'].update(cfg)
if ds.network_config:
    ns = network_state.parse_net_config_data(ds.network_config)
    out['ifaces'] = [{'name': i['name'], 'mac': i['mac_address'], 'subnets': i['subnets']} for i in ns.iter_interfaces()]
    # What Debian's ifupdown renderer writes: the gateway must be ifupdown's own, not a net-tools route command.
    from cloudinit.net import eni
    out['eni'] = eni.Renderer()._render_interfaces(ns)
    out['dns'] = ns.dns_nameservers + [a for i in ns.iter_interfaces() for s in i['subnets'] for a in s.get('dns_nameservers', [])]
print(json.dumps(out, default=str))
`;

interface Seen {
  found: boolean;
  instanceId: string;
  hostname: string;
  parts: Array<{ type: string; body: string }>;
  config: Record<string, unknown>;
  ifaces?: Array<{ name: string; mac: string; subnets: Array<Record<string, unknown>> }>;
  eni?: string;
  dns?: string[];
}

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8DH4s2ayDzn5zY0R1vJYpbRk6xaodMGwWK6N3Bfx1 alice@laptop';
const TAPS = [
  { name: 'hv0', mac: '52:54:00:12:34:56', address: '10.88.0.5', prefixLen: 16, gateway: '10.88.0.1', nameserver: '10.88.0.1' },
  { name: 'hv1', mac: '52:54:00:ab:cd:ef', address: '10.89.3.7', prefixLen: 24, nameserver: '10.89.0.1' },
];

describe.skipIf(!haveTools)('cloud-init NoCloud seed, read by cloud-init', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hull-seed-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Make the ISO, check its label as blkid sees it, take its files out (isoinfo, Rock Ridge names) and let cloud-init read them. */
  async function seed(name: string, s: SeedInput): Promise<Seen> {
    const iso = join(dir, `${name}.iso`);
    await writeSeed(iso, s);
    expect(execFileSync('blkid', ['-o', 'export', iso]).toString()).toMatch(/^LABEL=cidata$[\s\S]*^TYPE=iso9660$/m);
    const root = join(dir, name);
    const nocloud = join(root, 'seed', 'nocloud');
    execFileSync('mkdir', ['-p', nocloud]);
    const listed = execFileSync('isoinfo', ['-i', iso, '-R', '-f']).toString().split('\n').filter(Boolean).sort();
    for (const f of listed) execFileSync('sh', ['-c', 'isoinfo -i "$1" -R -x "$2" > "$3"', 'sh', iso, f, join(nocloud, f.slice(1))]);
    const seen = JSON.parse(execFileSync(PY, ['-c', READ_SEED, root], { stdio: ['ignore', 'pipe', 'pipe'] }).toString()) as Seen;
    return { ...seen, files: listed } as Seen & { files: string[] };
  }

  it('hostname, instance-id, SSH keys, a hashed password and the network, as cloud-init reads them', async () => {
    const hash = sha512Crypt('s3cret', 'saltsalt');
    const seen = await seed('full', { instanceId: 'f00dfeed0001', hostname: 'db', sshKeys: [KEY], passwordHash: hash, taps: TAPS });
    expect((seen as Seen & { files: string[] }).files).toEqual(['/meta-data', '/network-config', '/user-data']);
    expect(seen).toMatchObject({ found: true, instanceId: 'f00dfeed0001', hostname: 'db' });
    expect(seen.parts.map((p) => p.type)).toEqual(['text/cloud-config']);
    expect(seen.config).toMatchObject({ hostname: 'db', ssh_authorized_keys: [KEY], password: hash, chpasswd: { expire: false } });
    expect(seen.ifaces).toEqual([
      { name: 'eth0', mac: '52:54:00:12:34:56', subnets: [expect.objectContaining({ type: 'static', address: '10.88.0.5', prefix: 16 })] },
      { name: 'eth1', mac: '52:54:00:ab:cd:ef', subnets: [expect.objectContaining({ type: 'static', address: '10.89.3.7', prefix: 24 })] },
    ]);
    expect(seen.ifaces![0].subnets[0].gateway).toBe('10.88.0.1');
    expect(seen.ifaces![1].subnets[0].gateway).toBeUndefined();
    expect(seen.eni).toMatch(/iface eth0 inet static\n\s+address 10\.88\.0\.5\/16\n[\s\S]*gateway 10\.88\.0\.1/);
    expect(seen.dns).toEqual(expect.arrayContaining(['10.88.0.1', '10.89.0.1']));
  }, 60_000);

  it('a user script rides beside the cloud-config (MIME multipart); no taps, no network-config', async () => {
    const script = 'echo "--==HULL-SEED-BOUNDARY==--" > /root/ran\nhostname > /root/name';
    const seen = await seed('script', { instanceId: 'f00dfeed0002', hostname: 'web', userScript: script, taps: [] });
    expect((seen as Seen & { files: string[] }).files).toEqual(['/meta-data', '/user-data']);
    expect(seen.parts.map((p) => p.type)).toEqual(['text/cloud-config', 'text/x-shellscript']);
    expect(seen.parts[1].body).toBe(`#!/bin/sh\n${script}`);
    expect(seen.config).toMatchObject({ hostname: 'web' });
    expect(seen.ifaces).toBeUndefined();
  }, 60_000);

  it("the user's own user-data goes through verbatim", async () => {
    const own = '#cloud-config\nhostname: mine\nruncmd:\n  - [touch, /root/mine]\n';
    const seen = await seed('own', { instanceId: 'f00dfeed0003', hostname: 'vm3', userData: own, taps: TAPS.slice(0, 1) });
    expect(seen.parts).toEqual([{ type: 'text/cloud-config', body: own }]);
    expect(seen.config).toEqual({ hostname: 'mine', runcmd: [['touch', '/root/mine']] });
    expect(seen.hostname).toBe('vm3'); // meta-data's local-hostname; the user-data's hostname wins in the guest
  }, 60_000);
});

describe('first-boot options: validation and password hashing', () => {
  it('SHA-512 crypt equals openssl passwd -6', () => {
    for (const [pw, salt] of [['hunter2', 'abcdefgh'], ['a'.repeat(100) + 'ü', 'saltsaltsaltsalt'], ['p'.repeat(64), 'sixteencharssalt']]) {
      const want = execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: pw }).toString().trim();
      expect(sha512Crypt(pw, salt)).toBe(want);
    }
    expect(sha512Crypt('x')).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
  });

  it('user-data: cloud-config YAML, scripts and MIME pass; anything else is refused with the reason', () => {
    for (const ok of ['#cloud-config\n', '#cloud-config\npackages: [htop]\n', '#!/bin/sh\necho hi\n', '#include\nhttp://x/y\n', 'Content-Type: multipart/mixed; boundary="b"\n\n--b--\n']) {
      expect(() => checkUserData(ok)).not.toThrow();
    }
    expect(() => checkUserData('#cloud-config\nusers: [a\n')).toThrow(/user-data is not valid YAML/);
    expect(() => checkUserData('#cloud-config\na: 1\na: 2\n')).toThrow(/not valid YAML.*[Mm]ap keys must be unique/);
    expect(() => checkUserData('#cloud-config\n- a\n- b\n')).toThrow(/must be a YAML mapping/);
    expect(() => checkUserData('hostname: x\n')).toThrow(/must start with #cloud-config/);
  });

  it('SSH keys: OpenSSH public keys only', () => {
    expect(() => checkSshKey(KEY)).not.toThrow();
    expect(() => checkSshKey('-----BEGIN OPENSSH PRIVATE KEY-----')).toThrow(/not an SSH public key/);
    expect(() => checkSshKey('ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGq8DH4s2ayDzn5zY0R1vJYpbRk6xaodMGwWK6N3Bfx1')).toThrow(/not a ssh-rsa key/);
    expect(() => checkSshKey(`${KEY}\nssh-ed25519 AAAA`)).toThrow(/not an SSH public key/);
  });

  it('the create request: keys checked, --user-data exclusive, password kept only as a hash', () => {
    const bad = VmCreateSchema.safeParse({ sshKeys: ['nope'] });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toMatch(/not an SSH public key/);
    const both = VmCreateSchema.safeParse({ userData: '#cloud-config\n', sshKeys: [KEY] });
    expect(JSON.stringify(both.error?.issues)).toMatch(/--user-data replaces/);
    const o = VmCreateSchema.parse({ sshKeys: [`  ${KEY}\n`], password: 'pw' });
    const vm = vmConfig(o);
    expect(vm.sshKeys).toEqual([KEY]);
    expect(vm.passwordHash).toMatch(/^\$6\$/);
    expect(vm.passwordHash!.split('$')[3]).toBe(sha512Crypt('pw', vm.passwordHash!.split('$')[2]).split('$')[3]);
    expect(JSON.stringify(vm)).not.toContain('"pw"');
    const pre = sha512Crypt('other', 'abc');
    expect(vmConfig(VmCreateSchema.parse({ password: pre })).passwordHash).toBe(pre);
  });
});
