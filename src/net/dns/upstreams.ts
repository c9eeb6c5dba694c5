import { readFile } from 'node:fs/promises';
import { isIpv4 } from '../ipv4.js';
import type { Upstream } from './forwarder.js';

/**
 * The host's resolvers: HULL_DNS_UPSTREAM (`ip[:port],...`, for tests and
 * special set-ups) or the IPv4 nameservers of /etc/resolv.conf. Loopback
 * resolvers (systemd-resolved's 127.0.0.53) work: the forwarder runs on the host.
 */
export async function hostUpstreams(env = process.env.HULL_DNS_UPSTREAM, resolvConf = '/etc/resolv.conf'): Promise<Upstream[]> {
  if (env) {
    return env
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const [host, port] = s.split(':');
        return { host, port: port ? Number(port) : 53 };
      })
      .filter((u) => isIpv4(u.host) && u.port > 0 && u.port < 65536);
  }
  const text = await readFile(resolvConf, 'utf8').catch(() => '');
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]).filter(isIpv4).map((host) => ({ host, port: 53 }));
}
