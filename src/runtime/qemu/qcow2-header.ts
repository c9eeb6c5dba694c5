import { open } from 'node:fs/promises';
import { HullError } from '../../core/errors.js';

/**
 * An uploaded qcow2 is read here, by its header, before any qemu-img opens
 * it: a qcow2 can name other files (a backing file, an external data file,
 * even `json:{…}` block-layer specs), and qemu-img follows those names on
 * the daemon's host (flattening a backing file of /etc/shadow would copy it
 * into the image a guest reads). Such an image is refused, not flattened.
 *
 * Header (QEMU docs/interop/qcow2.txt, big-endian): 4 magic, 8 version,
 * 8..16 backing_file_offset, 16..20 backing_file_size, 20..24 cluster_bits;
 * version 3 adds 72..80 incompatible_features (bit 2: external data file) and
 * 100..104 header_length. Header extensions follow (version 2: at 72) as
 * (u32 type, u32 length, data padded to 8) until type 0; 0x44415441 names
 * the external data file.
 */
const EXT_DATA_FILE = 0x44415441;
const INCOMPAT_DATA_FILE = 1n << 2n;

export async function checkStandalone(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(104);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead < 72 || head.readUInt32BE(0) !== 0x514649fb) throw refuse('it is not a complete qcow2 header');
    const version = head.readUInt32BE(4);
    if (version !== 2 && version !== 3) throw refuse(`qcow2 version ${version} is not known`);
    if (head.readBigUInt64BE(8) !== 0n || head.readUInt32BE(16) !== 0) throw refuse('it has a backing file (flatten it first: qemu-img convert -O qcow2 IN OUT)');
    if (version === 3 && bytesRead < 104) throw refuse('its qcow2 v3 header is cut short');
    if (version === 3 && (head.readBigUInt64BE(72) & INCOMPAT_DATA_FILE) !== 0n) throw refuse('it keeps its data in an external data file');
    const clusterBits = head.readUInt32BE(20);
    if (clusterBits < 9 || clusterBits > 21) throw refuse(`cluster_bits ${clusterBits} is out of range`);
    // Extensions live in the first cluster.
    const cluster = Buffer.alloc(1 << clusterBits);
    const n = (await fh.read(cluster, 0, cluster.length, 0)).bytesRead;
    let off = version === 3 ? head.readUInt32BE(100) : 72;
    while (off + 8 <= n) {
      const type = cluster.readUInt32BE(off);
      const len = cluster.readUInt32BE(off + 4);
      if (type === 0) return;
      if (type === EXT_DATA_FILE) throw refuse('it names an external data file');
      off += 8 + Math.ceil(len / 8) * 8;
    }
    throw refuse('its header extensions run past the first cluster');
  } finally {
    await fh.close();
  }
}

const refuse = (why: string) => new HullError('invalid', `refusing the qcow2 image: ${why}`);
