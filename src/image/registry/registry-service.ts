import { join } from 'node:path';
import { invalid } from '../../core/errors.js';
import type { Image } from '../../core/image.js';
import type { ImageService } from '../image-service.js';
import { PinGroup } from '../pins.js';
import { familiarRepo, normalizeTag, parseReference, type Reference } from '../reference.js';
import { Authorizer } from './auth.js';
import { RegistryClient } from './client.js';
import { type Credential, CredentialStore } from './credentials.js';
import { Endpoints } from './endpoint.js';
import { parsePlatform } from './manifests.js';
import { type OnProgress, shortDigest } from './progress.js';
import { Puller } from './pull.js';
import { pushImage } from './push.js';

export interface PullOptions {
  /** `os/arch[/variant]`; default this host's. */
  platform?: string;
  onProgress?: OnProgress;
  signal?: AbortSignal;
}

export interface PullResult {
  image: Image;
  /** The tag the pull set, absent for a pull by digest. */
  name?: string;
  /** The digest the reference resolved to (the index's, for a multi-platform image). */
  digest: string;
  /** docker's closing line: `Downloaded newer image for …` or `Image is up to date for …`. */
  status: string;
}

const MAX_MOUNT_SOURCES = 3;
const noProgress: OnProgress = () => undefined;

/**
 * RegistryService: what the API calls for registries: pull (blobs into
 * the content store, layers unpacked as they arrive, then one image record),
 * push, and login/logout with credentials kept in `<root>/auth.json`.
 *
 * Until a pull is recorded, every blob and layer it has touched is pinned,
 * so a concurrent rmi, prune or failed pull cannot collect them; if the pull
 * fails, what it added and nothing else uses is removed again.
 */
export class RegistryService {
  readonly endpoints: Endpoints;
  readonly credentials: CredentialStore;
  private readonly auth: Authorizer;
  private readonly puller: Puller;
  private readonly clients = new Map<string, RegistryClient>();

  constructor(
    private readonly images: ImageService,
    root: string,
    insecureRegistries: string[] = [],
    /** PATCH chunk size for large blob uploads (tests use a small one). */
    private readonly chunkBytes?: number,
  ) {
    this.endpoints = new Endpoints(insecureRegistries);
    this.credentials = new CredentialStore(join(root, 'auth.json'));
    this.auth = new Authorizer(this.credentials, this.endpoints);
    this.puller = new Puller(images.content);
  }

  client(host: string): RegistryClient {
    let c = this.clients.get(host);
    if (!c) this.clients.set(host, (c = new RegistryClient(host, this.endpoints, this.auth)));
    return c;
  }

  async pull(refText: string, opts: PullOptions = {}): Promise<PullResult> {
    const ref = parseReference(refText);
    const name = ref.digest ? undefined : normalizeTag(refText);
    const platform = opts.platform ? parsePlatform(opts.platform) : this.images.platform;
    const on = opts.onProgress ?? noProgress;
    const pins = new PinGroup(this.images.pins);
    const created = new Set<string>();
    const diffIds: string[] = [];
    const onLayer = async (l: { digest: string; diffId: string }) => {
      pins.add([l.diffId]);
      diffIds.push(l.diffId);
      if (await this.images.layers.has(l.diffId)) return;
      on({ type: 'layer', id: shortDigest(l.digest), status: 'Extracting' });
      await this.images.layers.ensure(l);
      on({ type: 'layer', id: shortDigest(l.digest), status: 'Pull complete' });
    };
    try {
      const client = this.client(ref.domain);
      const pulled = await this.puller.pull({ client, ref, platform, platformExplicit: !!opts.platform, onProgress: on, pin: (d) => pins.add(d), created, onLayer, signal: opts.signal });
      const before = name ? await this.images.resolve(name).catch(() => undefined) : undefined;
      const image = await this.images.commitPulled(pulled.manifestDigest, name ? [name] : [], `${familiarRepo(ref)}@${pulled.topDigest}`);
      const shown = name ?? `${familiarRepo(ref)}@${pulled.topDigest}`;
      const status = before?.id === image.id ? `Image is up to date for ${shown}` : `Downloaded newer image for ${shown}`;
      on({ type: 'status', message: `Digest: ${pulled.topDigest}` });
      on({ type: 'status', message: `Status: ${status}` });
      return { image, name, digest: pulled.topDigest, status };
    } catch (e) {
      pins.release();
      await this.images.discard([...created], diffIds).catch(() => undefined);
      throw e;
    } finally {
      pins.release();
    }
  }

  async push(refText: string, opts: { onProgress?: OnProgress; signal?: AbortSignal } = {}): Promise<{ name: string; digest: string; size: number }> {
    const ref = parseReference(refText);
    if (ref.digest) throw invalid(`cannot push "${refText}": push a tag, like ${familiarRepo(ref)}:latest`);
    const name = normalizeTag(refText);
    const image = await this.images.resolve(name);
    const pins = new PinGroup(this.images.pins);
    pins.add([image.manifestDigest, image.id, ...image.layers.map((l) => l.digest)]);
    try {
      const client = this.client(ref.domain);
      const mountFrom = mountSources(await this.images.list(), ref);
      const out = await pushImage(this.images.content, { client, ref, manifestDigest: image.manifestDigest, mountFrom, onProgress: opts.onProgress ?? noProgress, chunkBytes: this.chunkBytes, signal: opts.signal });
      await this.images.addRepoDigest(image.id, `${familiarRepo(ref)}@${out.digest}`, name);
      (opts.onProgress ?? noProgress)({ type: 'status', message: `${ref.tag ?? 'latest'}: digest: ${out.digest} size: ${out.size}` });
      return { name, ...out };
    } finally {
      pins.release();
    }
  }

  /** Check the credentials against the registry (GET /v2/ through its auth flow), then keep them. */
  async login(registry: string, cred: Credential): Promise<{ host: string }> {
    const host = registryHost(registry);
    if (!cred.username || !cred.password) throw invalid('a username and a password are needed');
    const client = this.client(host);
    const res = await client.send({ method: 'GET', path: '/v2/', scopes: [], cred });
    await client.check(res, 'login', [200]);
    await res.body.dump();
    await this.credentials.set(host, cred);
    this.auth.forget(host);
    return { host };
  }

  async logout(registry: string): Promise<{ host: string; removed: boolean }> {
    const host = registryHost(registry);
    const removed = await this.credentials.remove(host);
    this.auth.forget(host);
    return { host, removed };
  }

  close(): Promise<void> {
    return this.endpoints.close();
  }
}

/**
 * For each blob, other repositories on the push's registry that should hold
 * it: those of local images that have the blob and came from (or went to)
 * that registry, known pulls and pushes (repo digests) first, then names.
 * Docker keeps a table of this; Hull reads it off the images it has.
 */
function mountSources(images: Image[], to: Reference): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const i of images) {
    const repos = [...(i.repoDigests ?? []), ...i.tags].map((n) => parseReference(n)).filter((r) => r.domain === to.domain && r.path !== to.path);
    for (const d of [i.id, ...i.layers.map((l) => l.digest)]) {
      const list = out.get(d) ?? [];
      for (const r of repos) if (!list.includes(r.path) && list.length < MAX_MOUNT_SOURCES) list.push(r.path);
      if (list.length) out.set(d, list);
    }
  }
  return out;
}

/** `https://index.docker.io/v1/`, `index.docker.io`, `HOST:PORT` → the name references use. */
export function registryHost(input: string): string {
  const host = input.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  if (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === '') return 'docker.io';
  const ref = parseReference(`${host}/x`);
  if (ref.domain !== host) throw invalid(`"${input}" is not a registry host`);
  return host;
}
