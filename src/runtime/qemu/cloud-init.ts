import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { HullError, invalid } from '../../core/errors.js';
import { run } from '../../sys/run.js';
import type { TapDevice } from '../driver.js';
import type { Instance } from '../../core/instance.js';
import type { VmFiles } from './files.js';
import { vmOptions, type VmSpec } from './spec.js';

/**
 * First-boot configuration for guests that run cloud-init (imported cloud
 * images, which boot their own disk): a NoCloud seed, an ISO 9660 volume
 * labelled `cidata` holding
 *
 *   meta-data       instance-id (the VM's id: stable, so once-per-instance
 *                   steps run once) and local-hostname
 *   user-data       the user's own (`--user-data`, verbatim), or Hull's:
 *                   #cloud-config with the hostname, SSH keys and password of
 *                   the image's default user; with a user script, a MIME
 *                   multipart of that cloud-config and the script
 *   network-config  version 2: each card matched by its MAC, static address,
 *                   gateway, name server (from the VM's taps)
 *
 * The driver rewrites it at each start (taps and addresses are decided then)
 * and attaches it as a read-only virtio disk. Hull's own guest (debian-min) reads the
 * fw_cfg config tar instead (driver.ts writeConfig, guest/rc).
 */
export interface SeedInput {
  instanceId: string;
  hostname: string;
  sshKeys?: string[];
  /** A crypt(3) hash (crypt.ts); cloud-init sets it with `chpasswd -e`. */
  passwordHash?: string;
  /** Shell commands run once per instance (a `#!` part; `#!/bin/sh` is added when missing). */
  userScript?: string;
  /** The user's own user-data: replaces Hull's generated one. */
  userData?: string;
  taps: TapDevice[];
}

export const seedPath = (files: VmFiles): string => join(files.dir, 'seed.iso');

/** The seed's files. Hull's YAML is written as JSON, which is YAML too: nothing a name or key holds can break the quoting. */
export function seedFiles(s: SeedInput): Record<string, string> {
  const files: Record<string, string> = {
    'meta-data': `${JSON.stringify({ 'instance-id': s.instanceId, 'local-hostname': s.hostname }, null, 2)}\n`,
    'user-data': s.userData ?? userData(s),
  };
  if (s.taps.length) files['network-config'] = networkConfig(s.taps);
  return files;
}

export function userData(s: SeedInput): string {
  const cfg: Record<string, unknown> = {
    hostname: s.hostname,
    manage_etc_hosts: true,
    // Addresses are decided at each start: apply network-config at every boot, not only the first.
    updates: { network: { when: ['boot'] } },
  };
  if (s.sshKeys?.length) cfg.ssh_authorized_keys = s.sshKeys;
  if (s.passwordHash) {
    cfg.password = s.passwordHash;
    cfg.chpasswd = { expire: false };
  }
  const cloudConfig = `#cloud-config\n${JSON.stringify(cfg, null, 2)}\n`;
  if (!s.userScript) return cloudConfig;
  const script = s.userScript.startsWith('#!') ? s.userScript : `#!/bin/sh\n${s.userScript}`;
  return multipart([
    { type: 'text/cloud-config', name: 'hull.cfg', body: cloudConfig },
    { type: 'text/x-shellscript', name: 'user-script', body: script },
  ]);
}

/** MIME multipart as cloud-init's `make-mime` writes it; parts in base64, so no text can end a part early. */
function multipart(parts: Array<{ type: string; name: string; body: string }>): string {
  const b = '==HULL-SEED-BOUNDARY==';
  let out = `Content-Type: multipart/mixed; boundary="${b}"\nMIME-Version: 1.0\n\n`;
  for (const p of parts) {
    const body = Buffer.from(p.body).toString('base64').replace(/.{76}/g, '$&\n');
    out += `--${b}\nContent-Type: ${p.type}; charset="utf-8"\nMIME-Version: 1.0\nContent-Transfer-Encoding: base64\n`;
    out += `Content-Disposition: attachment; filename="${p.name}"\n\n${body}\n`;
  }
  return `${out}--${b}--\n`;
}

/** network-config version 2 (netplan's format, which cloud-init renders for the guest's own network stack). */
export function networkConfig(taps: TapDevice[]): string {
  const ethernets: Record<string, unknown> = {};
  for (const [i, t] of taps.entries()) {
    const eth: Record<string, unknown> = { match: { macaddress: t.mac }, 'set-name': `eth${i}`, addresses: [`${t.address}/${t.prefixLen}`] };
    // gateway4, not routes: cloud-init's ifupdown (ENI) renderer turns routes into `route add` (net-tools,
    // absent from Debian's images: seen, no default route) but gateway4 into ifupdown's own `gateway`.
    if (t.gateway) eth.gateway4 = t.gateway;
    if (t.nameserver) eth.nameservers = { addresses: [t.nameserver] };
    ethernets[`eth${i}`] = eth;
  }
  return `${JSON.stringify({ version: 2, ethernets }, null, 2)}\n`;
}

/** A VM's seed (`<vm dir>/seed.iso`) from its record, machine and this start's taps. */
export async function writeVmSeed(files: VmFiles, inst: Instance, spec: VmSpec, taps: TapDevice[]): Promise<void> {
  const o = vmOptions(inst);
  await writeSeed(seedPath(files), { instanceId: inst.id, hostname: spec.hostname, sshKeys: o.sshKeys, passwordHash: o.passwordHash, userScript: o.userScript, userData: o.userData, taps });
}

/** Write the seed ISO (genisoimage) atomically: a half-written one is never attached. */
export async function writeSeed(path: string, s: SeedInput): Promise<void> {
  const dir = `${path}.d`;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
  try {
    for (const [name, text] of Object.entries(seedFiles(s))) await writeFile(join(dir, name), text, { mode: 0o600 });
    await run(['genisoimage', '-quiet', '-output', `${path}.tmp`, '-volid', 'cidata', '-joliet', '-rock', dir], { timeoutMs: 60_000 }).catch((e: unknown) => {
      if (e instanceof HullError && e.code === 'unavailable') throw new HullError('unavailable', 'genisoimage is not installed (it makes the cloud-init seed): run `npm run setup`');
      throw e;
    });
    await rename(`${path}.tmp`, path);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(`${path}.tmp`, { force: true });
  }
}

// ---- validation, at create ----

const PASSTHROUGH = ['#!', '#include', '#cloud-boothook', '#part-handler', '#cloud-config-archive', '#cloud-config-jsonp'];

/** A user's own user-data: the kinds cloud-init reads; a #cloud-config must be a YAML mapping. */
export function checkUserData(text: string): void {
  if (text.startsWith('#cloud-config') && !text.startsWith('#cloud-config-')) return checkCloudConfig(text);
  if (PASSTHROUGH.some((p) => text.startsWith(p)) || /^content-type:\s*multipart\//i.test(text)) return;
  const first = text.split('\n', 1)[0].slice(0, 40);
  throw invalid(`user-data must start with #cloud-config (YAML), #! (a script), #include, #cloud-boothook or be a MIME multipart (Content-Type: multipart/…); it starts with ${JSON.stringify(first)}`);
}

function checkCloudConfig(text: string): void {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const err = doc.errors[0];
  if (err) throw invalid(`user-data is not valid YAML: ${err.message.split('\n')[0]}`);
  const v: unknown = doc.toJS();
  if (v !== null && (typeof v !== 'object' || Array.isArray(v))) throw invalid('user-data (#cloud-config) must be a YAML mapping of cloud-config keys');
}

const KEY_TYPES = /^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;

/** One OpenSSH public key line: `TYPE BASE64 [comment]`, its blob naming the same type (a private key or garbage is refused). */
export function checkSshKey(key: string): void {
  const [type, blob] = key.trim().split(/\s+/);
  const shown = key.length > 40 ? `${key.slice(0, 40)}…` : key;
  if (/[\r\n]/.test(key.trim()) || !type || !KEY_TYPES.test(type) || !blob || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) {
    throw invalid(`not an SSH public key (expected "ssh-ed25519 AAAA… comment" or another OpenSSH key type): ${JSON.stringify(shown)}`);
  }
  const raw = Buffer.from(blob, 'base64');
  const n = raw.length >= 4 ? raw.readUInt32BE(0) : -1;
  if (n < 0 || raw.subarray(4, 4 + n).toString('latin1') !== type) throw invalid(`SSH public key ${JSON.stringify(shown)}: its key data is not a ${type} key`);
}
