import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetworkAttachment, NetworkMode } from '../core/network.js';
import type { NetworkContext } from '../runtime/driver.js';

/**
 * /etc/hosts, /etc/resolv.conf and /etc/hostname for one container, written
 * under <root>/net/<id>/ and bind-mounted over the image's. On a bridge
 * network the name server is the first network's gateway (Hull's DNS); with
 * --network host or none the host's resolv.conf is copied, as docker does.
 */
export interface ContainerNames {
  id: string;
  name: string;
  hostname: string;
  mode: NetworkMode;
  networks: NetworkAttachment[];
}

export function hostsFile(c: ContainerNames, hostHosts?: string): string {
  if (c.mode === 'host' && hostHosts !== undefined) return hostHosts;
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  const own = [...new Set([c.hostname, c.name])].join(' ');
  if (c.networks.length === 0) lines.push(`127.0.1.1\t${own}`);
  c.networks.forEach((n, i) => lines.push(`${n.ipAddress}\t${i === 0 ? own : c.name}`));
  return `${lines.join('\n')}\n`;
}

export function resolvConf(c: ContainerNames, hostResolv: string): string {
  if (c.mode !== 'bridge' || c.networks.length === 0) return hostResolv;
  const search = hostResolv.split('\n').filter((l) => /^\s*search\s/.test(l));
  return [`nameserver ${c.networks[0].gateway}`, ...search, 'options ndots:0', ''].join('\n');
}

export const filesDir = (root: string, id: string) => join(root, 'net', id);

export async function writeContainerFiles(root: string, c: ContainerNames): Promise<NetworkContext['mounts']> {
  const dir = filesDir(root, c.id);
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const hostResolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const hostHosts = c.mode === 'host' ? await readFile('/etc/hosts', 'utf8').catch(() => undefined) : undefined;
  const files: Array<[string, string]> = [
    ['hosts', hostsFile(c, hostHosts)],
    ['resolv.conf', resolvConf(c, hostResolv)],
    ['hostname', `${c.hostname}\n`],
  ];
  await Promise.all(files.map(([f, text]) => writeFile(join(dir, f), text, { mode: 0o644 })));
  return files.map(([f]) => ({ destination: `/etc/${f}`, source: join(dir, f), type: 'bind', options: ['rbind', 'rprivate'] }));
}

export async function removeContainerFiles(root: string, id: string): Promise<void> {
  await rm(filesDir(root, id), { recursive: true, force: true });
}
