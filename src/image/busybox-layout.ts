import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { sha256 } from './content/digest.js';
import { run } from './exec.js';
import { hostArchitecture, MediaType } from './oci-types.js';
import { writeOciLayout } from './oci-layout-writer.js';
import { type PackEntry, packTar } from './tar-pack.js';

/** Every entry and the config carry this time, so the same busybox always gives the same digest. */
const EPOCH = new Date('2000-01-01T00:00:00Z');
const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
const GROUP = 'root:x:0:\nnobody:x:65534:\n';

/**
 * Build Hull's built-in `busybox:latest` as an OCI image layout in `outDir`,
 * from the host's static busybox: one gzip layer with /bin/busybox, a symlink
 * per applet, a minimal /etc and the mount points a container expects.
 * Deterministic (fixed mtimes, sorted entries), so rebuilding gives the same
 * digest, and a no-op when `outDir` already holds this exact image.
 */
export async function buildBusyboxLayout(outDir: string, busybox = '/bin/busybox'): Promise<{ manifestDigest: string; changed: boolean }> {
  const binary = await readFile(busybox);
  const applets = (await run(busybox, ['--list'])).split('\n').filter((a) => a !== '' && a !== 'busybox' && !a.includes('/'));
  const layer = await packTar(rootfsEntries(binary, applets));
  const config = {
    created: EPOCH.toISOString(),
    architecture: hostArchitecture(),
    os: 'linux',
    config: { Env: [PATH], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
    history: [{ created: EPOCH.toISOString(), created_by: `hull: ${busybox} with ${applets.length} applets` }],
  };
  return writeOciLayout(outDir, { config, layers: [{ blob: gzipSync(layer, { level: 6 }), mediaType: MediaType.ociLayerGzip }], refName: 'latest' });
}

function rootfsEntries(binary: Buffer, applets: string[]): PackEntry[] {
  const dir = (name: string, mode = 0o755): PackEntry => ({ header: { name, type: 'directory', mode } });
  const file = (name: string, data: Buffer | string, mode = 0o644): PackEntry => ({
    header: { name, type: 'file', mode },
    data: Buffer.from(data),
  });
  const entries: PackEntry[] = [
    dir('bin'),
    file('bin/busybox', binary, 0o755),
    ...applets.map((a): PackEntry => ({ header: { name: `bin/${a}`, type: 'symlink', linkname: 'busybox', mode: 0o777 } })),
    dir('dev'),
    dir('etc'),
    file('etc/group', GROUP),
    file('etc/hostname', ''),
    file('etc/passwd', PASSWD),
    dir('proc', 0o555),
    dir('root', 0o700),
    dir('sys', 0o555),
    dir('tmp', 0o1777),
  ];
  const sorted = entries.sort((a, b) => (a.header.name < b.header.name ? -1 : a.header.name > b.header.name ? 1 : 0));
  return sorted.map((e) => ({ ...e, header: { uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: EPOCH, ...e.header } }));
}
