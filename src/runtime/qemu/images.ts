import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HullError, notFound } from '../../core/errors.js';
import { checkName } from '../../core/ids.js';
import { formatSize } from '../../core/units.js';
import { Reverter } from '../../core/reverter.js';
import * as qcow2 from '../../storage/qcow2.js';
import { checkStandalone } from './qcow2-header.js';
import type { GuestArtifacts } from './guest.js';
import type { BootMode, VmSpec } from './spec.js';

/**
 * VmImages: the disks VMs are cloned from, one directory each under
 * <root>/vm-images/<id>/ holding image.json and either disk.qcow2 (VM disks
 * are linked clones of it, so it never changes while a VM uses it) or
 * cdrom.iso (an installer: VMs boot it as a CD and get a blank disk).
 *
 *   await images.ensureBuiltin(guest)                 // debian-min, from build/guest
 *   await images.importFile('/tmp/os.qcow2', { name: 'myos' })   // a file on this host (an admin's)
 *   await images.importStream(req, { name: 'myos' })               // an upload: untrusted
 *   await images.get('myos')                          // by name or id prefix
 *   await images.remove('myos')                       // refused while a VM's disk is cloned from it
 *
 * An image whose name moves to a newer one (a rebuilt debian-min) keeps its
 * directory, nameless, while VMs still use it.
 */
export interface VmImage {
  id: string;
  /** '' once a newer image took the name. */
  name: string;
  format: 'qcow2' | 'iso';
  boot: BootMode;
  virtualSize: number;
  sizeOnDisk: number;
  createdAt: string;
  /** The file VMs are made from. */
  path: string;
}

export interface ImportOptions {
  name: string;
  boot?: BootMode;
  replace?: boolean;
  /** An upload: a qcow2 that names other files (backing file, external data file) is refused. */
  untrusted?: boolean;
}

export const BUILTIN = 'debian-min';
const UPLOAD = '.upload-';
/** Left free on the images' filesystem whatever is imported. */
const ROOM_RESERVE = 256 * 1024 * 1024;
const DISK = 'disk.qcow2';
const ISO = 'cdrom.iso';
type Record_ = Omit<VmImage, 'path' | 'sizeOnDisk'>;

export class VmImages {
  readonly dir: string;
  constructor(private root: string) {
    this.dir = join(root, 'vm-images');
  }

  async list(): Promise<VmImage[]> {
    const ids = await readdir(this.dir).catch(() => [] as string[]);
    const out: VmImage[] = [];
    for (const id of ids.filter((i) => !i.startsWith('.'))) {
      const img = await this.load(id).catch(() => undefined);
      if (img) out.push(img);
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  private async load(id: string): Promise<VmImage> {
    const r = JSON.parse(await readFile(join(this.dir, id, 'image.json'), 'utf8')) as Record_;
    const path = join(this.dir, id, r.format === 'iso' ? ISO : DISK);
    const st = await stat(path);
    return { ...r, path, sizeOnDisk: st.blocks * 512 };
  }

  /** By exact name, else by unique id prefix (at least 4 characters). */
  async get(ref: string): Promise<VmImage> {
    const all = await this.list();
    const byName = all.find((i) => i.name === ref);
    if (byName) return byName;
    const byId = ref.length >= 4 ? all.filter((i) => i.id.startsWith(ref)) : [];
    if (byId.length === 1) return byId[0];
    if (byId.length > 1) throw new HullError('invalid', `VM image id prefix "${ref}" is ambiguous`);
    throw notFound(`VM image "${ref}"`);
  }

  /** Register Hull's debian-min from the built guest; a no-op when it is already the current one. */
  async ensureBuiltin(guest: GuestArtifacts): Promise<VmImage> {
    await this.cleanupLeftovers(); // called once, at daemon start
    const id = `dm${(guest.inputs || (await this.fileTag(guest.baseDisk))).slice(0, 14)}`;
    const cur = await this.get(BUILTIN).catch(() => undefined);
    if (cur?.id === id) return cur;
    return this.add({ id, name: BUILTIN, boot: 'hull', createdAt: new Date().toISOString() }, async (dir) => {
      await qcow2.check(guest.baseDisk, `${BUILTIN} (${guest.baseDisk})`);
      await copyFile(guest.baseDisk, join(dir, DISK));
      return 'qcow2';
    });
  }

  private async fileTag(path: string): Promise<string> {
    const st = await stat(path);
    return Buffer.from(`${st.size}-${st.mtimeMs}`).toString('hex');
  }

  /**
   * Import a qcow2 (checked, backing chain flattened), raw (converted to
   * qcow2) or ISO (kept as a CD image) file. `boot: 'hull'` marks a disk whose
   * ext4 root Hull's kernel can boot (it needs a /sbin/init).
   */
  async importFile(src: string, opts: ImportOptions): Promise<VmImage> {
    await this.checkName(opts);
    const format = await qcow2.detectFormat(src);
    if (format === 'iso' && opts.boot === 'hull') throw new HullError('invalid', 'an ISO image boots through the firmware, not with Hull\'s kernel');
    // An upload's qcow2 must stand alone: flattening a backing file or reading an external data file would copy host files into it.
    if (format === 'qcow2' && opts.untrusted) await checkStandalone(src);
    const id = randomBytes(16).toString('hex');
    return this.add({ id, name: opts.name, boot: opts.boot ?? 'firmware', createdAt: new Date().toISOString() }, async (dir) => {
      if (format === 'iso') {
        await copyFile(src, join(dir, ISO));
        return 'iso';
      }
      if (format === 'qcow2') await qcow2.check(src);
      await qcow2.convertToQcow2(src, join(dir, DISK), format);
      return 'qcow2';
    });
  }

  /** A valid name, not taken (unless replacing): checked before an upload's bytes are taken. */
  private async checkName(opts: ImportOptions): Promise<void> {
    checkName(opts.name, 'VM image');
    const existing = await this.get(opts.name).catch(() => undefined);
    if (existing && !opts.replace) throw new HullError('conflict', `VM image "${opts.name}" already exists`);
  }

  /**
   * An upload (`hull vm image import`, as `docker load`): the bytes land in a
   * temp file under the root, are checked as untrusted (a qcow2 must not name
   * a backing file or an external data file) and imported; the temp file goes
   * whatever happens. `size`, when the client says it, must match what arrived.
   */
  async importStream(body: NodeJS.ReadableStream, opts: Omit<ImportOptions, 'untrusted'> & { size?: number }): Promise<VmImage> {
    await this.checkName(opts);
    await mkdir(this.dir, { recursive: true });
    // The upload, then the image made from it (a raw one is converted): about twice its size, and room left over.
    if (opts.size !== undefined) await this.checkRoom(2 * opts.size, `the upload of ${formatSize(opts.size)}`);
    const tmp = join(this.dir, `${UPLOAD}${randomBytes(8).toString('hex')}`);
    try {
      await pipeline(body, this.roomGuard(), createWriteStream(tmp, { mode: 0o600 })).catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'ENOSPC' ? new HullError('resource', `the disk under ${this.dir} is full: nothing imported`) : e;
      });
      const got = (await stat(tmp)).size;
      if (opts.size !== undefined && got !== opts.size) throw new HullError('invalid', `the upload ended after ${got} of ${opts.size} bytes: nothing imported`);
      if (got === 0) throw new HullError('invalid', 'the upload is empty: nothing imported');
      return await this.importFile(tmp, { ...opts, untrusted: true });
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Refuse work that would leave less than ROOM_RESERVE free on the images' filesystem. */
  private async checkRoom(needBytes: number, what: string): Promise<void> {
    const st = await statfs(this.dir);
    const free = st.bavail * st.bsize;
    if (needBytes + ROOM_RESERVE > free) {
      throw new HullError('resource', `not enough disk space: ${what} needs about ${formatSize(needBytes)} and ${formatSize(free)} is free under ${this.dir} (${formatSize(ROOM_RESERVE)} is kept free)`);
    }
  }

  /** An upload of unknown size is stopped before it fills the disk: the space is checked every 64 MiB. */
  private roomGuard(): Transform {
    let sinceCheck = 0;
    return new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        sinceCheck += chunk.length;
        if (sinceCheck < 64 * 1024 * 1024) return done(null, chunk);
        sinceCheck = 0;
        this.checkRoom(0, 'the upload').then(() => done(null, chunk), (e: Error) => done(e));
      },
    });
  }

  /** What a daemon killed mid-import left (temp uploads and half-made image dirs): call at start-up. */
  async cleanupLeftovers(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    await Promise.all(names.filter((n) => n.startsWith(UPLOAD) || n.startsWith('.tmp-')).map((n) => rm(join(this.dir, n), { recursive: true, force: true })));
  }

  /** Make <id>/ from a temp dir (nothing half-made is ever visible), then move the name to it. */
  private async add(rec: Omit<Record_, 'format' | 'virtualSize'>, fill: (dir: string) => Promise<'qcow2' | 'iso'>): Promise<VmImage> {
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.tmp-${rec.id}`);
    const r = new Reverter();
    try {
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp);
      r.add(() => rm(tmp, { recursive: true, force: true }));
      const format = await fill(tmp);
      const file = join(tmp, format === 'iso' ? ISO : DISK);
      const virtualSize = format === 'iso' ? (await stat(file)).size : (await qcow2.info(file)).virtualSize;
      await writeFile(join(tmp, 'image.json'), `${JSON.stringify({ ...rec, format, virtualSize }, null, 2)}\n`);
      const old = await this.get(rec.name).catch(() => undefined);
      await rename(tmp, join(this.dir, rec.id));
      r.success();
      if (old) await this.retire(old);
      return this.load(rec.id);
    } finally {
      await r.revert();
    }
  }

  /** An image that lost its name: deleted when no VM uses it, else kept nameless. */
  private async retire(img: VmImage): Promise<void> {
    if ((await this.users(img.id)).length === 0) return void (await rm(join(this.dir, img.id), { recursive: true, force: true }));
    const rec = JSON.parse(await readFile(join(this.dir, img.id, 'image.json'), 'utf8')) as Record_;
    await writeFile(join(this.dir, img.id, 'image.json'), `${JSON.stringify({ ...rec, name: '' }, null, 2)}\n`);
  }

  async remove(ref: string): Promise<void> {
    const img = await this.get(ref);
    const users = await this.users(img.id);
    if (users.length) throw new HullError('conflict', `VM image "${ref}" is in use by ${users.length} VM(s): ${users.map((u) => u.slice(0, 12)).join(', ')}`);
    await rm(join(this.dir, img.id), { recursive: true, force: true });
  }

  /** Ids of the VMs (under <root>/vms) made from this image. */
  async users(imageId: string): Promise<string[]> {
    const vms = join(this.root, 'vms');
    const out: string[] = [];
    for (const id of await readdir(vms).catch(() => [] as string[])) {
      const spec = await readFile(join(vms, id, 'vm.json'), 'utf8').then((t) => JSON.parse(t) as VmSpec, () => undefined);
      if (spec?.image.id === imageId) out.push(id);
    }
    return out;
  }
}
