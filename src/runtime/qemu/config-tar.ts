import * as tar from 'tar-stream';

/**
 * A small tar of named text files: how Hull hands configuration to its guest
 * (QEMU's `-fw_cfg name=opt/org.hull.config,file=…`; the guest reads it from
 * /sys/firmware/qemu_fw_cfg/by_name/opt/org.hull.config/raw with `tar -x`).
 */
export async function configTar(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (b: unknown) => void chunks.push(b as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const [name, body] of Object.entries(files)) {
    pack.entry({ name, mode: 0o644, mtime: new Date(0) }, typeof body === 'string' ? Buffer.from(body) : body);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Quote a word for the guest's busybox sh: '…' with ' written as '\''. */
export const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
